"""The drill's steps: status, trigger, investigate, restore, arm/disarm, and run (all of them in order).

Steps take the API probe and the function caller through the `Drill` (with a clock, a sleep, a wall
clock and a progress sink), so tests and the offline rehearsal can run the whole drill against their
own stand-ins. In real use the probe is an HTTPS GET of the API endpoint and the caller is
`lambda:Invoke` (`seams`). One module per step; `fault` and `alarm` hold the rules they share.
"""

from drill.fault_policy import fault_statements
from drill.steps.alarm import alarm_states, arm_step, invocations_needed, pending_periods, safe_to_arm
from drill.steps.fault import bucket_policy, fault_sids, remove_directly
from drill.steps.model import ApiProbe, Drill, FunctionCaller, Probe, StepResult, Timeline
from drill.steps.restore import restore
from drill.steps.run import FAULT_KIND, RunResult, investigate_step, run, trigger_with_cleanup
from drill.steps.seams import api_gateway_event, http_probe, lambda_caller
from drill.steps.status import status
from drill.steps.trigger import require_fault_chain, trigger

__all__ = [
    "FAULT_KIND",
    "ApiProbe",
    "Drill",
    "FunctionCaller",
    "Probe",
    "RunResult",
    "StepResult",
    "Timeline",
    "alarm_states",
    "api_gateway_event",
    "arm_step",
    "bucket_policy",
    "fault_sids",
    "fault_statements",
    "http_probe",
    "investigate_step",
    "invocations_needed",
    "lambda_caller",
    "pending_periods",
    "remove_directly",
    "require_fault_chain",
    "restore",
    "run",
    "safe_to_arm",
    "status",
    "trigger",
    "trigger_with_cleanup",
]
