"""`gameday`: inject (hidden when random), wait for the symptom, show what participants see, take their
answer, run the investigator, reveal the truth, restore, and score.

Whatever stops it once the injection has begun (a timeout, an error, Ctrl-C or SIGTERM) restores first.
CloudWatch investigations offers no API to read one investigation (DESIGN.md), so participants get the
console of the region, where the 5XX alarm starts investigations in the stack's investigation group.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from drill import outputs, stack
from drill.errors import DrillError
from drill.investigator.model import REQUEST_PATH_ORDER
from drill.scenarios.catalogue import SCENARIOS
from drill.scenarios.inject import inject, scenario_for
from drill.scenarios.restore import CACHE_NOTE, restore
from drill.scenarios.traffic import until_alarm
from drill.scenarios.trigger import symptom_alarms
from drill.steps.alarm import alarm_states
from drill.steps.model import Drill, Probe, StepResult
from drill.steps.run import investigate_step

RANDOM = "random"
KINDS = tuple(kind for kind in REQUEST_PATH_ORDER if kind != "unknown")
Ask = Callable[[str], str]  # prompt -> the participants' answer


def pick(drill: Drill, choice: str, rng: random.Random) -> str:
    if choice != RANDOM:
        return choice
    return rng.choice([s.name for s in SCENARIOS if s.unavailable(drill) is None])


def wait_for_symptom(drill: Drill, deadline: float, interval: float) -> Probe:
    probe = drill.probe()
    while probe.ok and drill.clock() < deadline:
        drill.progress(f"waiting for the symptom: API {probe.describe()} ({CACHE_NOTE})")
        drill.sleep(interval)
        probe = drill.probe()
    if probe.ok:
        raise DrillError("no symptom: the API still answers 200 at the timeout")
    return probe


def wait_for_alarm(drill: Drill, deadline: float, interval: float) -> Probe:
    """A FIS scenario's partial fault: traffic until its alarm fires (most requests still answer 200)."""
    fired, tally = until_alarm(drill, symptom_alarms(drill), deadline=deadline, interval=interval)
    if fired is None:
        raise DrillError(f"no symptom: no alarm fired under traffic by the timeout ({tally.line()})")
    return drill.probe()


def participants_view(drill: Drill, probe: Probe) -> list[str]:
    keys = (stack.API_5XX_ALARM, stack.ERRORS_ALARM, outputs.LATENCY_ALARM, stack.INVOCATIONS_ALARM)
    names = [drill.outputs.get(k) for k in keys]
    states = alarm_states(drill, [n for n in names if n])
    console = f"https://{drill.region}.console.aws.amazon.com/cloudwatch/home?region={drill.region}"
    return [
        f"API: {probe.describe()}",
        *(f"alarm {name}: {alarm['StateValue']}" for name, alarm in sorted(states.items())),
        f"investigations: {console} (AI Operations > Investigations; the 5XX alarm starts them)",
        f"investigator: {drill.command_line('investigate')}",
    ]


def ask_prompt() -> str:
    return "What is the root cause? One of:\n" + "\n".join(f"  {kind}" for kind in KINDS) + "\nanswer: "


def gameday(
    drill: Drill,
    *,
    choice: str,
    answer: str | None,
    ask: Ask,
    show: Callable[[str], None],
    rng: random.Random | None = None,
    timeout: float = 300,
    interval: float = 10,
    since_minutes: float = 15,
    restore_timeout: float = 120,
) -> StepResult:
    name = pick(drill, choice, rng or random.SystemRandom())
    scenario = scenario_for(drill, name)  # a usage error before anything changes
    start = drill.clock()
    card: dict[str, Any] = {"scenario": name, "truth": scenario.kind, "hidden": choice == RANDOM}
    restored: StepResult | None = None
    try:
        loud = drill.progress
        if choice == RANDOM:
            drill.progress = lambda _message: None  # nothing that names the scenario
        try:
            inject(drill, name, timeout=timeout, interval=interval)
        finally:
            drill.progress = loud
        show("a fault is injected" if choice == RANDOM else f"injected {name}")
        wait = wait_for_alarm if scenario.mechanism == "fis" else wait_for_symptom
        probe = wait(drill, start + timeout, interval)
        for line in participants_view(drill, probe):
            show(line)
        asked = drill.clock()
        given = answer if answer is not None else ask(ask_prompt()).strip()
        card["participants"] = {
            "answer": given,
            "seconds": round(drill.clock() - asked, 1),
            "hit": given == scenario.kind,
        }
        step, report = investigate_step(drill, since_minutes=since_minutes)
        found = report.root_cause.kind if report.root_cause else "healthy"
        card["investigator"] = {"answer": found, "seconds": round(step.seconds, 1), "hit": found == scenario.kind}
    finally:
        restored = restore(drill, timeout=restore_timeout, interval=min(interval, 5))
        card["restore"] = {"ok": restored.ok, "seconds": round(restored.seconds, 1), "summary": restored.summary}
        drill.progress(f"restore: {restored.summary}")
    ok = restored.ok
    return StepResult("gameday", ok, drill.clock() - start, scorecard_summary(card), scorecard(card), card)


def scorecard(card: dict[str, Any]) -> list[str]:
    def who(key: str) -> str:
        entry = card[key]
        return f"{entry['answer']} in {entry['seconds']:.1f}s ({'hit' if entry['hit'] else 'miss'})"

    return [
        f"scenario      {card['scenario']}",
        f"truth         {card['truth']}",
        f"participants  {who('participants')}",
        f"investigator  {who('investigator')}",
        f"restore       {'ok' if card['restore']['ok'] else 'FAILED'} in {card['restore']['seconds']:.1f}s",
    ]


def scorecard_summary(card: dict[str, Any]) -> str:
    hits = [key for key in ("participants", "investigator") if card[key]["hit"]]
    return f"game day {card['scenario']}: found by {', '.join(hits) or 'nobody'}; " + (
        "restored" if card["restore"]["ok"] else "NOT restored: " + card["restore"]["summary"]
    )
