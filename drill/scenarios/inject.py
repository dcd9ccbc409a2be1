"""`inject --scenario NAME`: record the prior state, then make the change and read it back.

Order, so that a crash anywhere loses nothing: read the prior state and compute the state the scenario
will write → write both to the record (conditional: a scenario already recorded keeps its first record)
→ disarm the invocations alarm (direct and FIS scenarios) → change → read back. A FIS scenario's change
is an experiment, started and waited for in `fis`. A refused change is rolled back
to the recorded prior state and its record removed (with the arming it found put back), so nothing is
left half-done and the record says exactly what is active.
"""

from __future__ import annotations

from typing import Any

from drill.errors import DrillError, UsageError
from drill.scenarios import fis, seed
from drill.scenarios import record as store
from drill.scenarios.arming import disarm, found_arming
from drill.scenarios.catalogue import BY_NAME, NAMES, SEED
from drill.scenarios.model import AWS_ERRORS, Scenario, checkpoint, describe_error, same, shown, shown_against
from drill.steps.alarm import set_actions
from drill.steps.fault import fault_sids
from drill.steps.model import Drill, StepResult, Timeline


def scenario_for(drill: Drill, name: str) -> Scenario:
    """The scenario, or a usage error naming the catalogue or why this stack cannot run it."""
    if name not in BY_NAME:
        raise UsageError(f"unknown scenario {name!r}; choose from {', '.join(NAMES)}")
    scenario = BY_NAME[name]
    why = scenario.unavailable(drill)
    if why:
        raise UsageError(f"scenario {name} cannot run on this stack: {why}")
    return scenario


def inject(drill: Drill, name: str, *, timeout: float = 120, interval: float = 5) -> StepResult:
    scenario = scenario_for(drill, name)
    timeline = Timeline(drill)
    if scenario.mechanism == "fault-function":
        data = _inject_seed(drill, timeline, timeout=timeout, interval=interval)
    elif scenario.mechanism == "fis":
        data = {**fis.inject(drill, name, timeline, timeout=timeout, interval=interval), "kind": scenario.kind}
    else:
        data = _inject_direct(drill, scenario, timeline)
    data["timeline"] = timeline.to_json()
    if data["already"]:
        summary = f"{name} was already injected ({scenario.resource}): recorded once"
    elif scenario.mechanism == "fis":
        summary = f"injected {name} ({scenario.kind}): experiment {data['experiment']} is running"
    else:
        summary = f"injected {name} ({scenario.kind}): {scenario.resource} changed and read back"
    return StepResult("inject", True, timeline.elapsed(), summary, timeline.lines(), data)


def _inject_seed(drill: Drill, timeline: Timeline, *, timeout: float, interval: float) -> dict[str, Any]:
    fresh = store.new_record(
        SEED, seed.prior_state(drill), {"fault": "the fault function's two statements"}, found_arming(drill)
    )
    kept = store.put_new(drill, fresh)
    timeline.mark(f"recorded {SEED} in the drill's record (alarm {'armed' if kept.armed else 'disarmed'} before)")
    checkpoint(drill, "recorded")
    present = bool(fault_sids(drill))
    sids = seed.inject(drill, timeout=timeout, interval=interval)
    timeline.mark(f"bucket policy holds {', '.join(sids)}")
    return {"scenario": SEED, "already": present, "fault_sids": sids, "recorded_at": kept.recorded_at}


def _inject_direct(drill: Drill, scenario: Scenario, timeline: Timeline) -> dict[str, Any]:
    assert scenario.read and scenario.target and scenario.write
    prior = scenario.read(drill)
    wanted = scenario.target(drill, prior)  # may refuse (DrillError) before anything changes
    fresh = store.new_record(scenario.name, prior, wanted, found_arming(drill))
    kept = store.put_new(drill, fresh)
    resource = scenario.resource_name(drill)
    if kept is fresh:
        timeline.mark(f"recorded the prior state of {resource} ({scenario.resource})")
    checkpoint(drill, "recorded")
    current = prior if kept is fresh else scenario.read(drill)
    data: dict[str, Any] = {
        "scenario": scenario.name,
        "kind": scenario.kind,
        "resource": resource,
        "prior": kept.prior,
        "injected": kept.injected,
        "recorded_at": kept.recorded_at,
        "already": False,
    }
    if kept is not fresh:
        if same(current, kept.injected):
            disarm(drill)  # a first inject killed before it disarmed leaves no armed alarm behind
            timeline.mark(f"{scenario.name} is recorded since {kept.recorded_at} and in effect: nothing to do")
            return {**data, "already": True}
        if not same(current, kept.prior):
            raise DrillError(
                f"{scenario.name} is recorded since {kept.recorded_at} but {resource} is neither as recorded before "
                f"({shown_against(kept.prior, current)}) nor as the scenario writes it "
                f"({shown_against(kept.injected, current)}): it is now {shown_against(current, kept.injected)}; "
                "run `restore` (with --force to overwrite)"
            )
        timeline.mark(f"{scenario.name} was recorded at {kept.recorded_at} but not applied: applying it now")
    if disarm(drill):
        timeline.mark("disarmed the invocations alarm while the scenario is active (the seed's fault stays out)")
    try:
        scenario.write(drill, current, kept.injected)
    except (*AWS_ERRORS, DrillError) as err:
        raise DrillError(
            f"{scenario.name} refused: {describe_error(err)}; {_roll_back(drill, scenario, kept)}"
        ) from None
    checkpoint(drill, "changed")
    after = scenario.read(drill)
    if not same(after, kept.injected):
        raise DrillError(
            f"{resource} reads back {shown(after)}, not {shown(kept.injected)}; the record stays: run `restore`"
        )
    timeline.mark(f"{resource} changed and read back: {shown(after)}")
    return data


def _roll_back(drill: Drill, scenario: Scenario, kept: store.Record) -> str:
    """Undo whatever part of a refused change went through; remove the record only once that is certain."""
    assert scenario.read and scenario.write
    try:
        current = scenario.read(drill)
        if not same(current, kept.prior):
            scenario.write(drill, current, kept.prior)
        if not same(scenario.read(drill), kept.prior):
            return "it could not be rolled back: the record stays, run `restore`"
        if kept.armed:
            set_actions(drill, True)  # disarmed a moment ago by this inject: exactly as before
        store.delete(drill, scenario.name)
    except (*AWS_ERRORS, DrillError) as err:
        return f"rolling back failed too ({describe_error(err)}): the record stays, run `restore`"
    return "nothing was left changed and the record was removed"
