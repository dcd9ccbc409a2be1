"""The invocations alarm while a scenario is active: read the arming, disarm, and put it back safely.

The armed alarm injects the seed's fault at its threshold of invocations, and every probe and request
is an invocation: a direct scenario disarms it for as long as it is active, after recording the arming it
found. Putting it back follows the drill's re-arm rule (drill/steps/alarm.py): arm only when the alarm is
OK and no pending period holds enough invocations; else leave it disarmed and say how to arm it.
"""

from __future__ import annotations

from drill import stack
from drill.steps.alarm import arm_commands, invocations_alarm, safe_to_arm, set_actions
from drill.steps.model import Drill


def found_arming(drill: Drill) -> bool | None:
    """ActionsEnabled of the invocations alarm; None when the stack has no fault chain."""
    if not drill.outputs.get(stack.INVOCATIONS_ALARM):
        return None
    return bool(invocations_alarm(drill).get("ActionsEnabled"))


def disarm(drill: Drill) -> bool:
    """Disarm if armed; whether it was armed."""
    if found_arming(drill):
        set_actions(drill, False)
        return True
    return False


def put_back(drill: Drill, wanted: bool | None, *, deadline: float, interval: float) -> tuple[bool, str]:
    """Bring the arming to `wanted`: (done, what happened). Disarming is always safe; arming waits for the rule."""
    if wanted is None or not drill.outputs.get(stack.INVOCATIONS_ALARM):
        return True, "no invocations alarm"
    name = drill.outputs.require(stack.INVOCATIONS_ALARM)
    now = found_arming(drill)
    if now == wanted:
        return True, f"{name} left {'armed' if wanted else 'disarmed'}, as it was before the game day"
    if not wanted:
        set_actions(drill, False)
        return True, f"disarmed {name}, as it was before the game day"
    while True:
        safe, why = safe_to_arm(drill)
        if safe:
            set_actions(drill, True)
            return True, f"re-armed {name}: {why}"
        if drill.clock() >= deadline:
            commands = arm_commands(drill)
            return False, f"left {name} DISARMED ({why}): arm it with `{commands[0]}` (or: {commands[1]})"
        drill.progress(f"not re-arming yet: {why}")
        drill.sleep(interval)
