"""`restore`: disarm, remove the fault (fault function, else directly), confirm, wait for 200, re-arm.

The alarm is disarmed before the fault is removed, so invocations made before the restore (the
trigger's, the drill's own probes) cannot bring the fault back. It is re-armed only when that is safe
(`alarm.safe_to_arm`) and only if it was armed when the restore began; otherwise it is left disarmed
and the result says how to arm it. The restore succeeds when the fault is gone and the API answers 200.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError
from drill.steps.alarm import arm_commands, invocations_alarm, safe_to_arm, set_actions
from drill.steps.fault import fault_sids, remove_directly
from drill.steps.model import Drill, StepResult, Timeline

AWS_ERRORS = (DrillError, ClientError, BotoCoreError)


def _describe(err: Exception) -> str:
    return str(err) if isinstance(err, DrillError) else f"{type(err).__name__} {error_code(err)}"


def through_function(drill: Drill, function: str) -> tuple[bool, str]:
    """Ask the fault function to restore; (answered as expected, what happened)."""
    try:
        answer = drill.function_caller(function, {"action": "restore"})
    except (*AWS_ERRORS, ValueError) as err:
        return False, f"{function} could not restore: {_describe(err)}"
    expected = (
        isinstance(answer, dict)
        and answer.get("action") == "restore"
        and isinstance(answer.get("changed"), bool)
        and "error" not in answer
    )
    if not expected:
        return False, f"{function} answered {str(answer)[:160]!r} to a restore"
    removed = ", ".join(answer.get("sids") or []) or "nothing"
    return True, f"{function} restore: changed={answer['changed']}, removed {removed}"


def _fault_left(drill: Drill, timeline: Timeline) -> list[str] | None:
    """The fault's Sids still in the policy after the function's restore; None when it cannot be read
    (then the direct path runs and reads it again)."""
    try:
        return fault_sids(drill)
    except AWS_ERRORS as err:
        timeline.mark(f"could not read the bucket policy back: {_describe(err)}")
        return None


def _wait_to_rearm(drill: Drill, timeline: Timeline, deadline: float, interval: float) -> tuple[bool, str]:
    while True:
        try:
            safe, why = safe_to_arm(drill)
            if safe:
                set_actions(drill, True)
                return True, why
        except AWS_ERRORS as err:  # the fault is gone already: say so, and leave the alarm disarmed
            return False, f"could not check or re-arm the alarm: {_describe(err)}"
        if drill.clock() >= deadline:
            return False, f"{why}; timeout reached after {timeline.elapsed():.0f}s"
        drill.progress(f"not re-arming yet: {why}")
        drill.sleep(interval)


def restore(drill: Drill, *, timeout: float = 120, interval: float = 5) -> StepResult:
    timeline = Timeline(drill)
    deadline = timeline.start + timeout
    data: dict[str, Any] = {}
    alarm_name = drill.outputs.get(stack.INVOCATIONS_ALARM)
    was_armed = None
    if alarm_name:
        # Nothing about the alarm may stop the fault's removal: a failure here is reported and the
        # alarm is then never re-armed by this restore (its state is unknown).
        try:
            armed_before = bool(invocations_alarm(drill).get("ActionsEnabled"))
            set_actions(drill, False)
            was_armed = armed_before
            timeline.mark(f"disarmed {alarm_name} (was {'armed' if was_armed else 'disarmed'})")
        except AWS_ERRORS as err:
            timeline.mark(f"could not disarm {alarm_name}: {_describe(err)}; removing the fault all the same")

    path = "none"
    fault_function = drill.outputs.get(stack.FAULT_FUNCTION)
    if fault_function:
        done, what = through_function(drill, fault_function)
        timeline.mark(what)
        if done:
            path = "function"
    left = _fault_left(drill, timeline)
    if path == "none" or left != []:
        if path == "function" and left:
            timeline.mark(f"the policy still holds {', '.join(left)} after the fault function's restore")
        removed = remove_directly(drill)
        path = "direct"
        timeline.mark(f"removed {', '.join(removed) or 'nothing'} from the bucket policy directly")
        left = fault_sids(drill)  # the direct path's own read-back: a failure here is the restore's failure
    timeline.mark("bucket policy read back: " + (f"still holds {', '.join(left)}" if left else "no fault statement"))
    data.update(path=path, fault_sids=left)

    probe = drill.probe()
    while not probe.ok and drill.clock() < deadline:
        drill.progress(f"waiting {timeline.elapsed():.0f}/{timeout:.0f}s for HTTP 200: API {probe.describe()}")
        drill.sleep(interval)
        probe = drill.probe()
    timeline.mark(f"API answers {probe.describe()}")
    data["api_status"] = probe.status
    ok = probe.ok and not left

    note = ""
    if alarm_name:
        armed, why = False, "the fault is still in place" if left else "it was disarmed before the restore"
        if was_armed is None and not left:
            why = "this restore could not read or disarm it"
        if was_armed and not left:
            armed, why = _wait_to_rearm(drill, timeline, deadline, interval)
        data["armed"] = armed
        if armed:
            timeline.mark(f"re-armed {alarm_name}: {why}")
        else:
            commands = data["arm_commands"] = arm_commands(drill)
            timeline.mark(f"left {alarm_name} DISARMED: {why}")
            timeline.mark(f"arm it when you want the fault back: {commands[0]}   (or: {commands[1]})")
            note = f"; alarm left disarmed ({why}): arm it with `{commands[0]}`"
    how = {"function": "through the fault function", "direct": "directly", "none": ""}[path]
    if ok:
        summary = f"restored {how}: API {probe.status} after {timeline.elapsed():.1f}s{note}"
    else:
        still = f", still injected: {', '.join(left)}" if left else ""
        summary = f"not restored after {timeline.elapsed():.0f}s: API {probe.describe()}{still}{note}"
    data["timeline"] = timeline.to_json()
    return StepResult("restore", ok, timeline.elapsed(), summary, timeline.lines(), data)
