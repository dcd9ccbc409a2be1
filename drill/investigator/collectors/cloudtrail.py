"""Who changed the stack's resources in the window: CloudTrail event history (LookupEvents).

Event history holds management events only, arrives typically within ~5 minutes of the call, and
LookupEvents allows 2 requests per second per account and region (the client retries throttling).
The investigation never waits for late events; it says they may be missing.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import Evidence, Target, iso
from drill.investigator.policy import INJECTED_SID_PREFIX

SOURCE = "cloudtrail"
DELIVERY_DELAY = timedelta(minutes=5)

# Event name -> (resource kind, request parameter naming the resource). Lambda's event names carry an
# API version suffix (e.g. PutFunctionConcurrency20171031), so both spellings are looked up.
EVENTS: dict[str, tuple[str, str]] = {
    "PutBucketPolicy": ("bucket", "bucketName"),
    "DeleteBucketPolicy": ("bucket", "bucketName"),
    "PutRolePolicy": ("role", "roleName"),
    "DeleteRolePolicy": ("role", "roleName"),
    "DetachRolePolicy": ("role", "roleName"),
    "PutParameter": ("parameter", "name"),
    "DeleteParameter": ("parameter", "name"),
    "PutFunctionConcurrency20171031": ("function", "functionName"),
    "PutFunctionConcurrency": ("function", "functionName"),
    # Object deletions are S3 data events, which event history does not hold (only a trail with data
    # events does). Looked up anyway: the calls are cheap and the report states the gap.
    "DeleteObject": ("bucket", "bucketName"),
    "DeleteObjects": ("bucket", "bucketName"),
}


def base_name(event_name: str) -> str:
    """`PutFunctionConcurrency20171031` -> `PutFunctionConcurrency`."""
    return event_name.rstrip("0123456789")


def our_resource(target: Target, kind: str) -> str | None:
    return {
        "bucket": target.bucket,
        "role": target.role_name,
        "parameter": target.parameter_name,
        "function": target.function_name,
    }[kind]


def names_resource(value: Any, wanted: str | None) -> bool:
    """A request parameter names our resource by name or ARN (parameter names may lack the slash)."""
    if not wanted or not isinstance(value, str):
        return False
    return value == wanted or value.endswith((f":{wanted}", f"/{wanted}", f"/{wanted.lstrip('/')}"))


def actor_of(record: dict[str, Any], event: dict[str, Any]) -> str | None:
    identity = record.get("userIdentity") or {}
    return identity.get("arn") or event.get("Username") or identity.get("invokedBy")


def injected_sids_in(request: dict[str, Any]) -> list[str]:
    policy = request.get("bucketPolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return []
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return [
        s["Sid"] for s in statements if isinstance(s, dict) and str(s.get("Sid", "")).startswith(INJECTED_SID_PREFIX)
    ]


def describe(event_name: str, resource: str, actor: str | None, target: Target, sids: list[str]) -> str:
    who = actor or "an unknown principal"
    if target.fault_function and actor and actor.endswith(f"/{target.fault_function}"):
        who = f"the fault injector function {target.fault_function} ({actor})"
    added = f", adding {', '.join(sids)}" if sids else ""
    return f"{base_name(event_name)} on {resource} by {who}{added}"


def lookup(scope: Scope, event_name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": event_name}],
        "StartTime": scope.window.start,
        "EndTime": scope.window.end,
        "MaxResults": 50,
    }
    for _ in range(3):  # 150 events of one name in the window is far beyond this stack's churn
        page = scope.clients.cloudtrail.lookup_events(**kwargs)
        found.extend(page.get("Events", []))
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return found


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    matches: list[tuple[Any, str, str, str | None, list[str]]] = []
    not_looked_up: list[str] = []
    for position, (event_name, (kind, parameter)) in enumerate(EVENTS.items()):
        try:
            events = lookup(scope, event_name)
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            if position == 0:
                raise  # nothing read at all: the whole source is unavailable
            not_looked_up.append(f"{event_name} ({error_code(err)})")
            continue
        wanted = our_resource(target, kind)
        for event in events:
            try:
                record = json.loads(event.get("CloudTrailEvent") or "{}")
            except json.JSONDecodeError:
                record = {}
            request = record.get("requestParameters") or {}
            named = names_resource(request.get(parameter), wanted) or any(
                names_resource(r.get("ResourceName"), wanted) for r in event.get("Resources", [])
            )
            if not named or record.get("errorCode"):
                continue  # another resource, or a call that failed and changed nothing
            matches.append((event["EventTime"], event_name, wanted, actor_of(record, event), injected_sids_in(request)))
    for moment, event_name, resource, actor, sids in sorted(matches, key=lambda m: m[0]):
        text = describe(event_name, resource, actor, target, sids)
        out.add(
            text,
            {
                "event_name": base_name(event_name),
                "resource": resource,
                "actor": actor,
                "changed_at": iso(moment),
                "injected_sids": sids,
            },
            time=moment,
            event=text,
        )
    caveat = (
        f"CloudTrail event history: {len(matches)} matching change events in the window. Delivery typically "
        f"lags up to ~5 minutes, so changes after {iso(scope.now - DELIVERY_DELAY)} may not have arrived yet "
        "(not waited for); object deletions are data events, absent from event history."
    )
    if not_looked_up:
        caveat += f" Not looked up: {', '.join(not_looked_up)}."
    out.add(caveat, {"summary": True, "events": len(matches)})
    return out.items
