"""`status`: API answer and latency, alarm states and arming, injected fault present, image count."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.shared.bucket_images import count_images
from drill.steps.alarm import alarm_states
from drill.steps.fault import READS as FAULT_READS
from drill.steps.fault import fault_sids
from drill.steps.model import Drill, StepResult

READS = (stack.API_ENDPOINT, *FAULT_READS)  # the outputs status cannot work without (the alarms are optional)


def status(drill: Drill) -> StepResult:
    start = drill.clock()
    probe = drill.probe()
    names = [drill.outputs.get(k) for k in (stack.INVOCATIONS_ALARM, stack.API_5XX_ALARM, stack.ERRORS_ALARM)]
    names = [n for n in names if n]
    found = alarm_states(drill, names)
    alarms = {n: found[n]["StateValue"] if n in found else "MISSING" for n in names}
    invocations = drill.outputs.get(stack.INVOCATIONS_ALARM)
    armed = bool(found[invocations].get("ActionsEnabled")) if invocations in found else None
    sids = fault_sids(drill)
    try:
        images, _, _ = count_images(drill.clients.s3, drill.outputs.require(stack.BUCKET))
    except ClientError as err:
        images = None
        drill.progress(f"cannot count images: {error_code(err)}")
    ok = probe.ok and not sids
    arming = "" if armed is None else f"; fault alarm {'armed' if armed else 'disarmed'}"
    summary = f"API {probe.describe()}; fault {'present' if sids else 'absent'}; {images} images{arming}"
    lines = [
        f"API        {drill.outputs.get(stack.API_ENDPOINT)} -> {probe.describe()}",
        *[f"alarm      {name}: {state}" for name, state in alarms.items()],
    ]
    if armed is not None:
        lines.append(
            f"arming     {invocations}: "
            + ("armed (its action injects the fault)" if armed else "disarmed (python -m drill arm to arm it)")
        )
    lines += [
        f"fault      {'present: ' + ', '.join(sids) if sids else 'absent'}",
        f"images     {images if images is not None else 'unknown'}",
    ]
    data = {
        "api": {
            "url": drill.outputs.get(stack.API_ENDPOINT),
            "status": probe.status,
            "latency_ms": round(probe.latency_ms, 1),
            "error": probe.error,
        },
        "alarms": alarms,
        "fault_armed": armed,
        "fault_present": bool(sids),
        "fault_sids": sids,
        "image_count": images,
    }
    return StepResult("status", ok, drill.clock() - start, summary, lines, data)
