"""`restore`: disarm, remove the fault (fault function, else directly), confirm, wait for 200, re-arm.

The alarm is disarmed before the fault is removed, so invocations made before the restore (the
trigger's, the drill's own probes) cannot bring the fault back. It is re-armed only when that is safe
(`alarm.safe_to_arm`) and only if it was armed when the restore began (`Arming.ARMED`); an alarm it
could not read or disarm (`Arming.UNKNOWN`) is never re-armed, whatever it reads later. Otherwise it is
left disarmed and the result says how to arm it. The restore succeeds when the fault is gone and the
API answers 200. Ctrl-C or SIGTERM once the fault is gone ends the waiting, not the result: it says
what was done and carries the interrupt (`StepResult.stopped`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError
from drill.steps.alarm import arm_commands, invocations_alarm, safe_to_arm, set_actions
from drill.steps.fault import READS as FAULT_READS
from drill.steps.fault import fault_sids, remove_directly
from drill.steps.model import Drill, StepResult, Timeline, describe

AWS_ERRORS = (DrillError, ClientError, BotoCoreError)
# The outputs restore cannot work without: the API it waits on and what removing the fault needs (the image
# function also names the alarm's metric when the alarm carries no dimensions). The fault chain is optional.
READS = (stack.API_ENDPOINT, *FAULT_READS)


class Arming(Enum):
    """The invocations alarm's actions when the restore began, as far as the restore knows."""

    ARMED = "armed"  # enabled, and this restore disabled them: it re-arms when that is safe
    DISARMED = "disarmed"  # already disabled: left so
    UNKNOWN = "unknown"  # could not be read or disabled: left as it was, never armed by this restore


@dataclass(frozen=True)
class AlarmBefore:
    arming: Arming
    reason: str = ""  # for UNKNOWN: what failed


def _disarm(drill: Drill, timeline: Timeline, name: str) -> AlarmBefore:
    """Disarm before the fault goes. Nothing about the alarm may stop the fault's removal: a failure is
    reported and the restore goes on."""
    try:
        armed = bool(invocations_alarm(drill).get("ActionsEnabled"))
    except AWS_ERRORS as err:
        before = AlarmBefore(Arming.UNKNOWN, f"could not read it: {_describe(err)}")
    else:
        try:
            set_actions(drill, False)
        except AWS_ERRORS as err:
            before = AlarmBefore(Arming.UNKNOWN, f"could not disarm it: {_describe(err)}")
        else:
            before = AlarmBefore(Arming.ARMED if armed else Arming.DISARMED)
            timeline.mark(f"disarmed {name} (was {before.arming.value})")
            return before
    timeline.mark(f"{name}: {before.reason}; removing the fault all the same")
    return before


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
    said = None
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
        if why != said:  # once per reason, not once per poll
            drill.progress(f"not re-arming yet: {why}")
            said = why
        drill.sleep(interval)


def restore(drill: Drill, *, timeout: float = 120, interval: float = 5) -> StepResult:
    timeline = Timeline(drill)
    deadline = timeline.start + timeout
    data: dict[str, Any] = {}
    alarm_name = drill.outputs.get(stack.INVOCATIONS_ALARM)
    before = _disarm(drill, timeline, alarm_name) if alarm_name else AlarmBefore(Arming.UNKNOWN, "no alarm")

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

    # From here on the fault is gone (or known to remain): an interrupt ends the waiting, not the result.
    stopped: KeyboardInterrupt | None = None
    probe = None
    try:
        probe = drill.probe()
        while not probe.ok and drill.clock() < deadline:
            drill.progress(f"waiting {timeline.elapsed():.0f}/{timeout:.0f}s for HTTP 200: API {probe.describe()}")
            drill.sleep(interval)
            probe = drill.probe()
    except KeyboardInterrupt as err:
        stopped = err
    answer = probe.describe() if probe else "not probed"
    timeline.mark(f"API answers {answer}" + (f" ({describe(stopped)} while waiting for 200)" if stopped else ""))
    data["api_status"] = probe.status if probe else None
    ok = probe is not None and probe.ok and not left

    note = ""
    if alarm_name:
        armed, why = False, "the fault is still in place" if left else "it was disarmed before the restore"
        if before.arming is Arming.UNKNOWN and not left:
            why = f"this restore {before.reason}, so it leaves the alarm as it was"
        if before.arming is Arming.ARMED and not left:
            if stopped:
                why = f"{describe(stopped)} before it was safe to re-arm"
            else:
                try:
                    armed, why = _wait_to_rearm(drill, timeline, deadline, interval)
                except KeyboardInterrupt as err:
                    stopped, why = err, f"{describe(err)} while waiting for a safe moment to re-arm"
        data["armed"] = armed
        if armed:
            timeline.mark(f"re-armed {alarm_name}: {why}")
        else:
            word = "left as it was" if before.arming is Arming.UNKNOWN else "left DISARMED"
            timeline.mark(f"{alarm_name} {word}: {why}")
            note = f"; alarm {word.lower()} ({why})"
            if drill.advise_commands:
                commands = data["arm_commands"] = arm_commands(drill)
                timeline.mark(f"arm it when you want the fault back: {commands[0]}   (or: {commands[1]})")
                note += f": arm it with `{commands[0]}`"
    how = {"function": "through the fault function", "direct": "directly", "none": ""}[path]
    if ok:
        summary = f"restored {how}: API {probe.status} after {timeline.elapsed():.1f}s{note}"
    else:
        still = f", still injected: {', '.join(left)}" if left else ", fault removed"
        summary = f"not restored after {timeline.elapsed():.0f}s: API {answer}{still}{note}"
    if stopped:
        data["stopped"] = describe(stopped)
    data["timeline"] = timeline.to_json()
    return StepResult("restore", ok, timeline.elapsed(), summary, timeline.lines(), data, stopped)
