"""`rehearse --scenario NAME|all`: play catalogue scenarios one after another on the one replica.

For each scenario: read the state the catalogue touches (drill/rehearsal/scenario_state.py), inject it,
produce its symptom (requests through the local API until it answers other than 200, or, for a partial
fault, steady traffic until its alarm fires), run the investigator in process, restore, and compare the
state with the first reading field by field. `detected` means the
investigator named the scenario's kind; `restored` that the restore succeeded and nothing differs.

How a scenario is injected and restored offline depends on its mechanism. `MECHANISMS` maps a mechanism to
its offline steps; the drill's own `inject`/`restore` serve every mechanism (the alarm chain is played by the
rehearsal's alarm evaluator, AWS FIS by its stand-in: drill/rehearsal/fis_standin.py, which the command
installs). What differs is the symptom: a full outage is the API's first answer other than 200; a FIS
scenario's partial fault shows only under steady traffic, as its own alarm (latency or errors) going to
ALARM. A mechanism without an entry is reported as skipped with the reason: never dropped, never counted as
detected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, TextIO

from drill.errors import DrillError, UsageError
from drill.scenarios import fis
from drill.scenarios.catalogue import BY_NAME, NAMES
from drill.scenarios.inject import inject
from drill.scenarios.model import AWS_ERRORS, Scenario, describe_error
from drill.scenarios.restore import restore
from drill.scenarios.traffic import SYMPTOM_RPS, Tally
from drill.steps.model import Drill, StepResult

ALL = "all"


@dataclass(frozen=True)
class Timing:
    symptom_timeout: float  # how long to wait for the API's first answer other than 200 (or for an alarm)
    restore_timeout: float
    interval: float
    since_minutes: float  # the investigator's window
    traffic_rps: float = SYMPTOM_RPS  # a partial fault's steady traffic (trigger's and gameday's unless told)
    traffic_round: float = 1.0  # seconds of traffic between two looks at the symptom alarm


def _api_symptom(drill: Drill, _scenario: Scenario, timing: Timing) -> str:
    """A full outage: requests through the API until its first answer other than 200 (gameday's wait)."""
    from drill.scenarios.gameday import wait_for_symptom

    return wait_for_symptom(drill, drill.clock() + timing.symptom_timeout, timing.interval).describe()


@dataclass(frozen=True)
class OfflineSteps:
    """What a mechanism brings to the rehearsal: how its scenarios are injected, show their symptom (a
    description of it; DrillError when none comes) and are restored offline."""

    inject: Callable[[Drill, Scenario, Timing], StepResult]
    restore: Callable[[Drill, Scenario, Timing], StepResult]
    symptom: Callable[[Drill, Scenario, Timing], str] = _api_symptom
    traffic: bool = False  # steady traffic while the symptom is awaited and investigated (a partial fault)


def _drill_inject(drill: Drill, scenario: Scenario, timing: Timing) -> StepResult:
    return inject(drill, scenario.name, timeout=timing.symptom_timeout, interval=timing.interval)


def _drill_restore(drill: Drill, _scenario: Scenario, timing: Timing) -> StepResult:
    return restore(drill, timeout=timing.restore_timeout, interval=timing.interval)


def symptom_alarm(drill: Drill, scenario: Scenario) -> str:
    """The alarm whose ALARM is a FIS scenario's symptom: the latency alarm or the image function's errors."""
    return drill.outputs.require(fis.SYMPTOM_ALARM[scenario.name])


def _alarm_state(drill: Drill, alarm: str) -> str:
    from drill.steps.alarm import alarm_states

    return str(alarm_states(drill, [alarm]).get(alarm, {}).get("StateValue", "missing"))


def _fis_inject(drill: Drill, scenario: Scenario, timing: Timing) -> StepResult:
    """The drill's inject (StartExperiment, wait until running), once the scenario's alarm is out of ALARM:
    an ALARM left by the scenario before (its errors, or the latency of the other experiment) would
    otherwise read as this scenario's symptom before any of its traffic."""
    alarm = symptom_alarm(drill, scenario)
    deadline = drill.clock() + timing.symptom_timeout
    state = _alarm_state(drill, alarm)
    while state == "ALARM":
        if drill.clock() >= deadline:
            raise DrillError(f"alarm {alarm} is still ALARM from before the scenario: its symptom cannot be told")
        drill.progress(f"waiting until {alarm} leaves ALARM (set before this scenario)")
        drill.sleep(timing.interval)
        state = _alarm_state(drill, alarm)
    return _drill_inject(drill, scenario, timing)


def _fis_symptom(drill: Drill, scenario: Scenario, timing: Timing) -> str:
    """A partial fault, under the steady traffic `play` runs for it: the scenario's own alarm in ALARM (most
    requests still answer 200), bounded by the symptom timeout."""
    alarm = symptom_alarm(drill, scenario)
    deadline = drill.clock() + timing.symptom_timeout
    state = _alarm_state(drill, alarm)
    said = None
    while state != "ALARM":
        if drill.clock() >= deadline:
            raise DrillError(f"no symptom: alarm {alarm} is {state} under traffic at the timeout")
        if state != said:  # one line per state, not one per look
            drill.progress(f"waiting for {alarm} under traffic: {state}")
            said = state
        drill.sleep(timing.interval)
        state = _alarm_state(drill, alarm)
    return f"alarm {alarm} ALARM"


DRILL_STEPS = OfflineSteps(inject=_drill_inject, restore=_drill_restore)
FIS_STEPS = OfflineSteps(inject=_fis_inject, restore=_drill_restore, symptom=_fis_symptom, traffic=True)
MECHANISMS: dict[str, OfflineSteps] = {"direct": DRILL_STEPS, "fault-function": DRILL_STEPS, "fis": FIS_STEPS}
WHY_NOT_PLAYED: dict[str, str] = {}


@dataclass
class Played:
    name: str
    kind: str
    mechanism: str
    detected: bool = False
    restored: bool = False
    seconds: float = 0.0
    skipped: str | None = None  # why the scenario was not played
    found: str | None = None  # the investigator's root-cause kind ("healthy" without one)
    symptom: str | None = None  # the API's first answer other than 200 (FIS: its alarm and the traffic's answers)
    error: str | None = None  # what stopped the scenario early
    restore: str | None = None  # the restore's summary
    differences: dict[str, Any] = field(default_factory=dict)  # field -> {before, after} after the restore

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "detected": self.detected,
            "restored": self.restored,
            "seconds": round(self.seconds, 1),
            "mechanism": self.mechanism,
            "skipped": self.skipped,
            "found": self.found,
            "symptom": self.symptom,
            "error": self.error,
            "restore": self.restore,
            "differences": self.differences,
        }


def chosen(name: str) -> list[str]:
    """The scenario names `--scenario` selects; a usage error (exit 2) names the choices."""
    if name == ALL:
        return list(NAMES)
    if name not in BY_NAME:
        raise UsageError(f"unknown scenario {name!r}; choose from {ALL}, {', '.join(NAMES)}")
    return [name]


def play_all(
    drill: Drill,
    names: list[str],
    *,
    timing: Timing,
    read_state: Callable[[Drill], dict[str, Any]],
    compare: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
    before_each: Callable[[Scenario], None] = lambda _scenario: None,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[Played]:
    results = []
    for name in names:
        before_each(BY_NAME[name])
        progress(f"scenario {name}")
        results.append(play(drill, BY_NAME[name], timing=timing, read_state=read_state, compare=compare))
        progress(f"scenario {name}: {verdict(results[-1])} in {results[-1].seconds:.1f}s")
    return results


def play(
    drill: Drill,
    scenario: Scenario,
    *,
    timing: Timing,
    read_state: Callable[[Drill], dict[str, Any]],
    compare: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
) -> Played:
    from drill.steps.run import investigate_step

    played = Played(scenario.name, scenario.kind, scenario.mechanism)
    steps = MECHANISMS.get(scenario.mechanism)
    why = scenario.unavailable(drill)
    if steps is None or why:
        played.skipped = why or WHY_NOT_PLAYED.get(
            scenario.mechanism, f"mechanism {scenario.mechanism!r} is not played offline"
        )
        return played
    start = time.monotonic()
    try:
        before = read_state(drill)
    except AWS_ERRORS as err:  # nothing was changed: say why the scenario was not played
        played.error = f"could not read the state before the injection: {describe_error(err)}"
        return played
    restored: StepResult | None = None
    try:
        try:
            steps.inject(drill, scenario, timing)
            with observed(drill, steps, timing) as tally:
                played.symptom = steps.symptom(drill, scenario, timing)
                step, report = investigate_step(drill, since_minutes=timing.since_minutes)
            if tally is not None:
                played.symptom += f" under traffic: {tally.line()}"
            played.found = report.root_cause.kind if report.root_cause else "healthy"
            played.detected = played.found == scenario.kind and not report.incident
        finally:  # whatever stopped it, the scenario is undone before the next one
            restored = steps.restore(drill, scenario, timing)
            played.restore = restored.summary
    except (*AWS_ERRORS, DrillError) as err:
        played.error = describe_error(err)
    try:
        played.differences = compare(before, read_state(drill))
    except AWS_ERRORS as err:
        played.error = played.error or f"could not read the state after the restore: {describe_error(err)}"
        played.differences = {"state": {"before": "read", "after": "unreadable"}}
    played.restored = restored is not None and restored.ok and not played.differences
    played.seconds = time.monotonic() - start
    return played


def observed(drill: Drill, steps: OfflineSteps, timing: Timing) -> AbstractContextManager[Tally | None]:
    """Steady traffic (drill/rehearsal/steady_traffic.py) for a partial fault, nothing for a full outage;
    stopped before the restore, whose re-arm rule waits for a quiet invocations alarm."""
    if not steps.traffic:
        return nullcontext()
    from drill.rehearsal.steady_traffic import steady_traffic

    return steady_traffic(
        drill, rps=timing.traffic_rps, round_seconds=timing.traffic_round, join_timeout=timing.restore_timeout
    )


def verdict(played: Played) -> str:
    if played.skipped:
        return "skipped"
    return f"{'detected' if played.detected else 'MISSED'}, {'restored' if played.restored else 'NOT restored'}"


def ok(results: list[Played]) -> bool:
    return bool(results) and all(p.detected and p.restored for p in results)


def render(results: list[Played], *, as_json: bool, out: TextIO, notes: dict[str, Any] | None = None) -> None:
    import json

    if as_json:
        document: dict[str, Any] = {"scenarios": [p.to_json() for p in results], "ok": ok(results)}
        if notes is not None:
            document["rehearsal"] = notes
        print(json.dumps(document, indent=2), file=out)
        return
    for line in scorecard(results):
        print(line, file=out)


def scorecard(results: list[Played]) -> list[str]:
    width = max([len("scenario"), *(len(p.name) for p in results)])
    lines = [f"{'scenario':<{width}}  {'investigator found':<28}  {'detected':<8}  {'restored':<8}  seconds"]
    for p in results:
        if p.skipped:
            lines.append(f"{p.name:<{width}}  skipped: {p.skipped}")
            continue
        lines.append(
            f"{p.name:<{width}}  {p.found or '-':<28}  {'yes' if p.detected else 'NO':<8}  "
            f"{'yes' if p.restored else 'NO':<8}  {p.seconds:7.1f}"
        )
        if p.error:
            lines.append(f"{'':<{width}}  stopped: {p.error}")
        for key, change in p.differences.items():
            lines.append(
                f"{'':<{width}}  differs after the restore: {key}: {change['before']!r} -> {change['after']!r}"
            )
    played = [p for p in results if not p.skipped]
    lines.append(
        f"{sum(p.detected for p in played)}/{len(results)} detected, {sum(p.restored for p in played)}/{len(results)} "
        f"restored exactly, {len(results) - len(played)} skipped, {sum(p.seconds for p in played):.1f}s"
    )
    return lines
