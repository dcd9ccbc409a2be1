"""The seed's scenario through its own chain: arm the invocations alarm and set it to ALARM.

The fault function acts only on an event from its own alarm, so `SetAlarmState` (which runs the alarm's
actions on the change to ALARM) is the way in. An alarm already in ALARM is set to OK first: the action
runs only on a change. Restore is the drill's own restore step (drill/steps/restore.py), unchanged.
"""

from __future__ import annotations

from drill import stack
from drill.errors import DrillError
from drill.scenarios.model import checkpoint
from drill.steps.alarm import invocations_alarm, set_actions
from drill.steps.fault import bucket_policy, fault_sids
from drill.steps.model import Drill

REASON = "python -m drill inject --scenario bucket_policy_deny (game day)"


def prior_state(drill: Drill) -> dict:
    return {"policy": bucket_policy(drill)}


def inject(drill: Drill, *, timeout: float, interval: float) -> list[str]:
    """Set the alarm off and wait for the fault's statements; the Sids found."""
    present = fault_sids(drill)
    if present:
        return present
    name = drill.outputs.require(stack.INVOCATIONS_ALARM)
    cloudwatch = drill.clients.cloudwatch
    set_actions(drill, True)
    if invocations_alarm(drill)["StateValue"] == "ALARM":
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason=REASON)
    cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=REASON)
    checkpoint(drill, "changed")
    deadline = drill.clock() + timeout
    while True:
        found = fault_sids(drill)
        if found:
            return found
        if drill.clock() >= deadline:
            raise DrillError(
                f"{name} was set to ALARM but the fault's statements were not in the bucket policy after "
                f"{timeout:.0f}s (is the alarm's action the fault function?)"
            )
        drill.progress(
            "waiting for the fault's statements in the bucket policy (the alarm's action runs the fault function)"
        )
        drill.sleep(interval)
