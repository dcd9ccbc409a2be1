"""Current state of the stack's alarms (invocations, API 5XX, function errors, API latency)."""

from __future__ import annotations

from drill.investigator.collectors._base import EvidenceList, Scope, in_window
from drill.investigator.model import Evidence

SOURCE = "alarms"
PURPOSES = {
    "invocations": "invocations alarm (its action runs the fault injector)",
    "api_5xx": "API 5XX alarm",
    "errors": "image function errors alarm",
    "latency": "API latency alarm",
}


def watched(alarm: dict) -> str | None:
    """What the alarm watches, from its dimensions: `api-name/stage` or the function's name."""
    dims = {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    if "ApiName" in dims:
        return f"{dims['ApiName']}/{dims.get('Stage', '')}".rstrip("/")
    return dims.get("FunctionName")


def collect(scope: Scope) -> list[Evidence]:
    alarms, out = scope.target.alarms, EvidenceList(SOURCE, scope)
    if not alarms:
        out.add("the stack outputs name no alarms", {"alarm": None})
        return out.items
    found = scope.clients.cloudwatch.describe_alarms(AlarmNames=list(alarms.values()))["MetricAlarms"]
    by_name = {a["AlarmName"]: a for a in found}
    for purpose, name in alarms.items():
        alarm = by_name.get(name)
        label = PURPOSES.get(purpose, purpose)
        if alarm is None:
            out.add(f"{label} {name} does not exist", {"alarm": name, "purpose": purpose, "state": None})
            continue
        state, updated = alarm["StateValue"], alarm.get("StateUpdatedTimestamp")
        reason = alarm.get("StateReason", "")
        event = f"{name} changed to {state}" if in_window(updated, scope.window) else None
        out.add(
            f"{label} {name} is {state}" + (f": {reason}" if reason else ""),
            {
                "alarm": name,
                "purpose": purpose,
                "state": state,
                "to_state": state,
                "threshold": alarm.get("Threshold"),
                "resource": watched(alarm),
            },
            time=updated,
            event=event,
        )
    return out.items
