"""`trigger --scenario NAME`: inject the scenario, then wait for the symptom (the API's non-200 answer)
and, for a 5XX, the 5XX alarm; a timeout, an error, Ctrl-C or SIGTERM restores (as `trigger` does)."""

from __future__ import annotations

from drill import stack
from drill.errors import DrillError
from drill.scenarios.inject import inject
from drill.scenarios.restore import CACHE_NOTE, restore
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


def fire(drill: Drill, name: str, *, timeout: float, interval: float) -> StepResult:
    """Inject, then wait for the symptom; DrillError on a timeout (the caller restores)."""
    timeline = Timeline(drill)
    injected = inject(drill, name, timeout=timeout, interval=interval)
    for event in injected.data.get("timeline", []):
        timeline.mark(event["event"])
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
