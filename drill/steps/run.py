"""`run` (every step in order) and `trigger` as a command: both clean up on every way out.

Once trigger has started, a timeout, an error, Ctrl-C or SIGTERM (raised as `Terminated`, a
KeyboardInterrupt) all lead to a restore; the result lists every step, the failing one included, and
the cleanup's own result even when the cleanup fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from drill.errors import DrillError
from drill.investigator import investigate, resolve_target, to_markdown
from drill.steps.model import Drill, StepResult, describe
from drill.steps.restore import restore
from drill.steps.status import status
from drill.steps.trigger import require_fault_chain, trigger

if TYPE_CHECKING:  # the investigator's report type; only its public functions are used at run time
    from drill.investigator import Report
    from drill.investigator.declared import Declared

FAULT_KIND = "bucket_policy_deny"  # what the fault injector does, so what `run` expects to find
INTERRUPTED = 130


class Scenario(Protocol):
    """What `run` needs of a game-day scenario (drill/scenarios/run.py builds one)."""

    kind: str  # the root cause the investigate step must find

    def fire(self) -> StepResult: ...  # inject it and wait for its symptom

    def clean(self) -> StepResult: ...  # restore


def investigate_step(
    drill: Drill, *, since_minutes: float, expect: str | None = None, declared: Declared | None = None
) -> tuple[StepResult, Report]:
    """Run the investigator; with `expect`, the step succeeds only if that is the root cause's kind. With
    `declared` (drill.investigator.declared.from_pulumi) the function is compared with the stack's state."""
    start = drill.clock()
    target = resolve_target(drill.outputs.values, drill.clients, account=drill.account, region=drill.region)
    # The investigator probes the API (through the drill's seam) only when the symptoms are past and no
    # recent request shows whether it works now.
    report = investigate(
        drill.clients,
        target,
        since_minutes=since_minutes,
        now=drill.wall(),
        probe=lambda: drill.probe().status,
        declared=declared,
    )
    root = report.root_cause
    if report.incident:  # over: a miss for `run`, which expects the fault it injected to hold
        summary = f"recovered: incident from {report.incident.start} to {report.incident.end}, no cause holds now"
    else:
        summary = f"{report.status}: {root.kind} on {root.resource}" if root else "healthy: no root cause"
    ok = expect is None or (root is not None and root.kind == expect)
    data = report.to_json()
    return StepResult("investigate", ok, drill.clock() - start, summary, to_markdown(report).splitlines(), data), report


@dataclass
class RunResult:
    steps: list[StepResult]
    expected: int = 5  # how many steps a complete, successful sequence has
    stopped: BaseException | None = None  # the error or interrupt that ended it early
    cleanup: StepResult | None = None  # the restore, when one ran

    @property
    def ok(self) -> bool:
        return self.stopped is None and len(self.steps) == self.expected and all(s.ok for s in self.steps)

    @property
    def interrupted(self) -> bool:
        return isinstance(self.stopped, KeyboardInterrupt)

    @property
    def exit_code(self) -> int:
        """0 ok; 130 interrupted and cleaned up; the error's code (2 usage, else 1); 1 any other failure."""
        cleaned = self.cleanup is None or self.cleanup.ok
        if self.interrupted:
            return INTERRUPTED if cleaned else 1
        if isinstance(self.stopped, DrillError) and cleaned:
            return self.stopped.exit_code
        return 0 if self.ok else 1

    def table(self) -> list[str]:
        rows = [f"{'step':<12} {'result':<7} {'seconds':>8}  summary"]
        rows += [f"{s.name:<12} {'ok' if s.ok else 'FAILED':<7} {s.seconds:>8.1f}  {s.summary}" for s in self.steps]
        if self.stopped is not None:
            rows.append(f"stopped early: {describe(self.stopped)}")
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stopped": describe(self.stopped) if self.stopped is not None else None,
            "cleanup": self.cleanup.to_json() if self.cleanup else None,
            "steps": [s.to_json() for s in self.steps],
        }


def _guarded(result: RunResult, drill: Drill, name: str, action: Callable[[], StepResult]) -> StepResult:
    """Run one step; an error or interrupt becomes a failed step (with its events so far) and stops the run."""
    start, drill.timeline = drill.clock(), None
    try:
        step = action()
    except (Exception, KeyboardInterrupt) as err:  # noqa: BLE001 (every way out is reported)
        lines = drill.timeline.lines() if drill.timeline else []
        step = StepResult(name, False, drill.clock() - start, describe(err), lines, {"error": describe(err)})
        result.stopped = result.stopped or err  # the first cause is the one to report
    if step.stopped is not None:  # the step took the interrupt itself and says what it had done
        result.stopped = result.stopped or step.stopped
    result.steps.append(step)
    return step


def _clean_up(
    result: RunResult, drill: Drill, timeout: float, interval: float, clean: Callable[[], StepResult] | None = None
) -> None:
    """Restore; if the restore itself fails, say so and how to finish it by hand (where that can be done)."""
    step = _guarded(result, drill, "restore", clean or (lambda: restore(drill, timeout=timeout, interval=interval)))
    if "error" in step.data:  # it stopped before it could tell whether the fault is gone
        then = f"run `{drill.command_line('restore')}`" if drill.advise_commands else "the stack goes with this drill"
        step.summary = f"cleanup failed ({step.summary}): the fault may remain; {then}"
    result.cleanup = step


def run(
    drill: Drill,
    *,
    since_minutes: float = 30,
    trigger_timeout: float = 300,
    restore_timeout: float = 120,
    interval: float = 10,
    scenario: Scenario | None = None,
    declared: Declared | None = None,
) -> RunResult:
    """status -> trigger -> investigate -> restore -> status; restore runs whenever trigger started.

    `scenario` (a game-day scenario, drill/scenarios/run.py) replaces the trigger, the expected kind and the
    restore. `declared` (the stack's declared state) is passed to the investigate step."""
    if scenario is None:
        require_fault_chain(drill.outputs)
    fire = scenario.fire if scenario else lambda: trigger(drill, timeout=trigger_timeout, interval=interval)
    expect = scenario.kind if scenario else FAULT_KIND
    result = RunResult([])
    first = _guarded(result, drill, "status", lambda: status(drill))
    if result.stopped is not None or not first.ok:
        first.summary += "" if result.stopped else " (the drill needs a healthy stack to start from)"
        return result
    try:
        fired = _guarded(result, drill, "trigger", fire)
        if fired.ok and result.stopped is None:
            _guarded(
                result,
                drill,
                "investigate",
                lambda: investigate_step(drill, since_minutes=since_minutes, expect=expect, declared=declared)[0],
            )
    except KeyboardInterrupt as err:  # between two steps
        result.stopped = result.stopped or err
    finally:
        # Always clean up after a trigger: a failed step, an error and an interrupt alike.
        _clean_up(result, drill, restore_timeout, interval, scenario.clean if scenario else None)
    if result.stopped is None:
        _guarded(result, drill, "status", lambda: status(drill))
    return result


def trigger_with_cleanup(
    drill: Drill, *, timeout: float = 300, interval: float = 10, restore_timeout: float = 120
) -> RunResult:
    """`python -m drill trigger`: a trigger that does not reach its goal is restored, not left half-done."""
    require_fault_chain(drill.outputs)
    result = RunResult([], expected=1)
    fired = _guarded(result, drill, "trigger", lambda: trigger(drill, timeout=timeout, interval=interval))
    if not fired.ok or result.stopped is not None:
        _clean_up(result, drill, restore_timeout, interval)
    return result
