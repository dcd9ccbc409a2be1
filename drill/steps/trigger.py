"""`trigger`: arm the alarm, invoke the image function up to its threshold, wait for ALARM and API 5XX."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError, UsageError
from drill.steps.alarm import invocations_alarm, invocations_needed, set_actions
from drill.steps.fault import READS as FAULT_READS
from drill.steps.fault import fault_sids
from drill.steps.model import Drill, StepResult, Timeline
from drill.steps.seams import api_gateway_event

# The outputs trigger cannot work without, besides the fault chain (`require_fault_chain`): the function it
# invokes, the API it probes for 5XX, and what reading the fault needs.
READS = (stack.IMAGE_FUNCTION, stack.API_ENDPOINT, *FAULT_READS)


def require_fault_chain(outputs: stack.StackOutputs) -> None:
    if not outputs.fault_chain:
        raise UsageError(
            "this stack was deployed without the fault chain (faultInjectionEnabled=false): outputs "
            f"{stack.FAULT_FUNCTION} and {stack.INVOCATIONS_ALARM} are absent, so there is nothing to trigger"
        )


def _invoke(drill: Drill) -> str | None:
    """One invocation of the image function; None when it succeeded, else why it did not."""
    try:
        answer = drill.call_image_function(api_gateway_event())
    except (DrillError, ClientError, BotoCoreError) as err:
        return str(err) if isinstance(err, DrillError) else error_code(err)
    if isinstance(answer, dict) and isinstance(answer.get("statusCode"), int):
        return None  # a proxy answer, 5XX included: the invocation itself succeeded
    return f"unexpected answer {str(answer)[:80]!r}"


def trigger(drill: Drill, *, timeout: float = 300, interval: float = 10) -> StepResult:
    require_fault_chain(drill.outputs)
    function = drill.outputs.require(stack.IMAGE_FUNCTION)
    timeline = Timeline(drill)
    deadline = timeline.start + timeout
    data: dict[str, Any] = {"alarm": drill.outputs.require(stack.INVOCATIONS_ALARM), "timeline": timeline.to_json()}

    def finish(ok: bool, summary: str) -> StepResult:
        data["timeline"] = timeline.to_json()
        return StepResult("trigger", ok, timeline.elapsed(), summary, timeline.lines(), data)

    current = invocations_alarm(drill)
    name = current["AlarmName"]
    # The alarm action runs only on a change to ALARM: a drill right after another must wait for OK.
    while current["StateValue"] == "ALARM":
        if drill.clock() >= deadline:
            return finish(False, f"alarm {name} stayed in ALARM from the last drill; wait a period and retry")
        drill.progress(f"waiting for {name} to leave ALARM (its action only runs on a change)")
        drill.sleep(interval)
        current = invocations_alarm(drill)

    before = fault_sids(drill)
    data["fault_present_before"] = before
    if before:
        timeline.mark(f"the fault was already present before trigger started: {', '.join(before)}")
    if not current.get("ActionsEnabled"):
        set_actions(drill, True)
        timeline.mark(f"armed {name} (its actions were disabled)")
    data["armed"] = True

    needed = invocations_needed(current)
    succeeded = attempts = 0
    while succeeded < needed:
        attempts += 1
        failure = _invoke(drill)
        if failure is None:
            succeeded += 1
            timeline.mark(f"invoked {function} ({succeeded}/{needed}, alarm threshold {current['Threshold']:g})")
            continue
        timeline.mark(f"invocation of {function} failed, not counted ({succeeded}/{needed}): {failure}")
        if drill.clock() >= deadline:
            data.update(invocations=succeeded, attempts=attempts, alarm_reached=False, api_failed=False)
            return finish(
                False,
                f"timed out after {timeout:.0f}s: only {succeeded} of {needed} invocations of {function} "
                f"succeeded (last: {failure})",
            )
        drill.sleep(interval)
    data.update(invocations=succeeded, attempts=attempts)

    alarmed = failing = False
    probe = drill.probe()
    while True:
        state = invocations_alarm(drill)["StateValue"]
        if state == "ALARM" and not alarmed:
            alarmed = True
            timeline.mark(f"alarm {name} is ALARM")
        if probe.failing and not failing:
            failing = True
            timeline.mark(f"API answers {probe.describe()}")
        if (alarmed and failing) or drill.clock() >= deadline:
            break
        drill.progress(f"waiting {timeline.elapsed():.0f}/{timeout:.0f}s: alarm {state}, API {probe.describe()}")
        drill.sleep(interval)
        probe = drill.probe()
    ok = alarmed and failing
    if ok:
        summary = f"fault triggered: alarm ALARM and API {probe.status} after {timeline.elapsed():.1f}s"
    else:
        summary = (
            f"timed out after {timeout:.0f}s: alarm {'ALARM' if alarmed else state}, API {probe.describe()} "
            "(CloudWatch evaluates the alarm once per period, often a minute or more after the calls)"
        )
    if before:
        summary += f"; the fault ({', '.join(before)}) was present before trigger started, not injected by it"
    sids = fault_sids(drill)
    if sids and not before:
        timeline.mark(f"bucket policy carries {', '.join(sids)}")
    data.update(alarm_reached=alarmed, api_failed=failing, fault_sids=sids)
    return finish(ok, summary)
