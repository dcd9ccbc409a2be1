"""`trigger --scenario NAME`: inject the scenario, then wait for the symptom (the API's non-200 answer)
and, for a 5XX, the 5XX alarm; a timeout, an error, Ctrl-C or SIGTERM restores (as `trigger` does).
A FIS scenario's fault is partial: traffic runs until the latency alarm or the errors alarm fires."""

from __future__ import annotations

from drill import stack
from drill.errors import DrillError
from drill.scenarios import fis
from drill.scenarios.inject import inject, scenario_for
from drill.scenarios.restore import CACHE_NOTE, restore
from drill.scenarios.traffic import until_alarm
from drill.steps.alarm import alarm_states
from drill.steps.model import Drill, StepResult, Timeline


def _wait(drill: Drill, timeline: Timeline, deadline: float, interval: float) -> tuple[bool, str]:
    """(symptom and alarm seen, what was seen last)."""
    alarm = drill.outputs.get(stack.API_5XX_ALARM)
    failing_seen = False
    while True:
        probe = drill.probe()
        if not probe.ok and not failing_seen:
            failing_seen = True
            timeline.mark(f"API answers {probe.describe()}")
        state = alarm_states(drill, [alarm])[alarm]["StateValue"] if alarm and probe.failing else None
        if failing_seen and (not probe.failing or not alarm or state == "ALARM"):
            if state == "ALARM":
                timeline.mark(f"alarm {alarm} is ALARM")
            return True, probe.describe()
        if drill.clock() >= deadline:
            return False, f"API {probe.describe()}" + (f", alarm {alarm} {state}" if state else "")
        drill.progress(f"waiting for the symptom: API {probe.describe()} ({CACHE_NOTE})")
        drill.sleep(interval)


def symptom_alarms(drill: Drill) -> list[str]:
    """The alarms a FIS scenario's partial fault sets off: the API's latency and the function's errors."""
    return [name for name in (drill.outputs.get(key) for key in fis.SYMPTOM_ALARM.values()) if name]


def _wait_under_traffic(drill: Drill, timeline: Timeline, deadline: float, interval: float) -> tuple[bool, str]:
    alarms = symptom_alarms(drill)
    fired, tally = until_alarm(drill, alarms, deadline=deadline, interval=interval)
    if fired:
        timeline.mark(f"alarm {fired} is ALARM under traffic: {tally.line()}")
        return True, f"alarm {fired} ALARM"
    return False, f"no alarm of {', '.join(alarms) or '(none: no alarm outputs)'} in ALARM; {tally.line()}"


def fire(drill: Drill, name: str, *, timeout: float, interval: float) -> StepResult:
    """Inject, then wait for the symptom; DrillError on a timeout (the caller restores)."""
    timeline = Timeline(drill)
    injected = inject(drill, name, timeout=timeout, interval=interval)
    for event in injected.data.get("timeline", []):
        timeline.mark(event["event"])
    if scenario_for(drill, name).mechanism == "fis":
        seen, last = _wait_under_traffic(drill, timeline, timeline.start + timeout, interval)
    else:
        seen, last = _wait(drill, timeline, timeline.start + timeout, interval)
    if not seen:
        raise DrillError(f"timed out after {timeout:.0f}s waiting for the symptom of {name}: {last}")
    summary = f"{name} triggered: {last} after {timeline.elapsed():.1f}s"
    return StepResult("trigger", True, timeline.elapsed(), summary, timeline.lines(), {"scenario": name})


def trigger_scenario(
    drill: Drill, name: str, *, timeout: float, interval: float, restore_timeout: float
) -> tuple[StepResult, StepResult | None]:
    """(the trigger's result, the restore's when one ran)."""
    start = drill.clock()
    try:
        return fire(drill, name, timeout=timeout, interval=interval), None
    except (DrillError, KeyboardInterrupt) as stop:
        lines = drill.timeline.lines() if drill.timeline else []
        cleanup = restore(drill, timeout=restore_timeout, interval=min(interval, 5))
        if isinstance(stop, KeyboardInterrupt):
            raise
        return StepResult("trigger", False, drill.clock() - start, str(stop), lines, {"scenario": name}), cleanup
