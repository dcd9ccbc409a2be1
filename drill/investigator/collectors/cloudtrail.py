"""Who changed the stack's resources in the window: CloudTrail event history (LookupEvents).

Event history holds management events only, arrives typically within ~5 minutes of the call, and
LookupEvents allows 2 requests per second per account and region (the client retries throttling).
So the collector asks once for the window's write events (`ReadOnly=false`, 50 per page, at most
MAX_PAGES pages) and picks ours locally, instead of one lookup per event name (20+ calls, 10 s of rate
limit). The investigation never waits for late events; it says they may be missing.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.fault_policy import is_fault
from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import Evidence, Target, iso

SOURCE = "cloudtrail"
DELIVERY_DELAY = timedelta(minutes=5)
# 250 write events in the window; at 2 requests per second more pages would cost the investigation its
# "under 5 s". A busier account gets the caveat "reading stopped" and the newest events.
MAX_PAGES = 5

# Base event name -> the (resource kind, request parameter naming it) pairs to try. Lambda's event
# names carry an API version suffix (AddPermission20150331v2, PutFunctionConcurrency20171031): see
# base_name. Object deletions are S3 data events, absent from event history (the report says so).
EVENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "PutBucketPolicy": (("bucket", "bucketName"),),
    "DeleteBucketPolicy": (("bucket", "bucketName"),),
    "PutBucketTagging": (("bucket", "bucketName"),),
    "DeleteBucketTagging": (("bucket", "bucketName"),),
    "PutRolePolicy": (("role", "roleName"),),
    "DeleteRolePolicy": (("role", "roleName"),),
    "AttachRolePolicy": (("role", "roleName"),),
    "DetachRolePolicy": (("role", "roleName"),),
    "PutRolePermissionsBoundary": (("role", "roleName"),),
    "DeleteRolePermissionsBoundary": (("role", "roleName"),),
    "UpdateAssumeRolePolicy": (("role", "roleName"),),
    "TagRole": (("role", "roleName"),),
    "UntagRole": (("role", "roleName"),),
    "UpdateRoleDescription": (("role", "roleName"),),
    "PutParameter": (("parameter", "name"),),
    "DeleteParameter": (("parameter", "name"),),
    "AddTagsToResource": (("parameter", "resourceId"),),
    "RemoveTagsFromResource": (("parameter", "resourceId"),),
    "PutFunctionConcurrency": (("function", "functionName"),),
    "DeleteFunctionConcurrency": (("function", "functionName"),),
    "AddPermission": (("function", "functionName"),),
    "RemovePermission": (("function", "functionName"),),
    "UpdateFunctionConfiguration": (("function", "functionName"),),
    "TagResource": (("function", "resource"), ("api", "resourceArn")),
    "UntagResource": (("function", "resource"), ("api", "resourceArn")),
    "UpdateStage": (("api", "restApiId"),),
    "DeleteStage": (("api", "restApiId"),),
    "CreateDeployment": (("api", "restApiId"),),
    "DeleteObject": (("bucket", "bucketName"),),
    "DeleteObjects": (("bucket", "bucketName"),),
    # FIS API calls are management events: https://docs.aws.amazon.com/fis/latest/userguide/monitoring-cloudtrail.html
    "StartExperiment": (
        ("fis_latency_template", "experimentTemplateId"),
        ("fis_errors_template", "experimentTemplateId"),
    ),
}
# Changes that cannot break a request: tags and descriptions.
HARMLESS_EVENTS = frozenset(
    {
        "PutBucketTagging",
        "DeleteBucketTagging",
        "TagRole",
        "UntagRole",
        "UpdateRoleDescription",
        "AddTagsToResource",
        "RemoveTagsFromResource",
        "TagResource",
        "UntagResource",
    }
)
HARMLESS_FIELDS = frozenset({"description", "/description", "tags"})
_VERSION_SUFFIX = re.compile(r"\d{8}(v\d+)?$")


def base_name(event_name: str) -> str:
    """`AddPermission20150331v2` -> `AddPermission`; `PutFunctionConcurrency20171031` -> `PutFunctionConcurrency`."""
    return _VERSION_SUFFIX.sub("", event_name)


def our_resource(target: Target, kind: str) -> str | None:
    return {
        "bucket": target.bucket,
        "role": target.role_name,
        "parameter": target.parameter_name,
        "function": target.function_name,
        "api": target.rest_api_id,
        "fis_latency_template": target.fis_templates.get("latency"),
        "fis_errors_template": target.fis_templates.get("errors"),
    }[kind]


def names_resource(value: Any, wanted: str | None) -> bool:
    """A request parameter names our resource by name or ARN (parameter names may lack the slash)."""
    if not wanted or not isinstance(value, str):
        return False
    return value == wanted or value.endswith((f":{wanted}", f"/{wanted}", f"/{wanted.lstrip('/')}"))


def actor_of(record: dict[str, Any], event: dict[str, Any]) -> str | None:
    identity = record.get("userIdentity") or {}
    return identity.get("arn") or event.get("Username") or identity.get("invokedBy")


def injected_sids_in(request: dict[str, Any], target: Target) -> list[str]:
    """Sids of the fault injector's own statements (drill/fault_policy.py) in a PutBucketPolicy request."""
    policy = request.get("bucketPolicy")
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return []
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    role = target.fault_role_arn
    return [str(s.get("Sid")) for s in statements if is_fault(s, target.bucket, role)]


def patch_paths(value: Any) -> list[str]:
    """The `path` of every patch operation anywhere in an API Gateway request."""
    if isinstance(value, dict):
        own = [str(value["path"])] if "op" in value and "path" in value else []
        return own + [p for v in value.values() for p in patch_paths(v)]
    if isinstance(value, list):
        return [p for v in value for p in patch_paths(v)]
    return []


def changed_fields(name: str, request: dict[str, Any]) -> list[str]:
    """What a configuration call changed: its request fields (Lambda) or patch paths (API Gateway)."""
    if name == "UpdateFunctionConfiguration":
        return sorted(k for k in request if k not in ("functionName", "revisionId"))
    if name == "UpdateStage":
        return sorted(set(patch_paths(request)))
    return []


def harmless(name: str, fields: list[str]) -> bool:
    if name in HARMLESS_EVENTS:
        return True
    return bool(fields) and all(f in HARMLESS_FIELDS or f.startswith("/tags") for f in fields)


def describe(name: str, resource: str, actor: str | None, target: Target, sids: list[str], fields: list[str]) -> str:
    who = actor or "an unknown principal"
    if target.fault_function and actor and actor.endswith(f"/{target.fault_function}"):
        who = f"the fault injector function {target.fault_function} ({actor})"
    added = f", adding {', '.join(sids)}" if sids else ""
    changed = f", changing {', '.join(fields)}" if fields else ""
    note = " (tags or description only: cannot break a request)" if harmless(name, fields) else ""
    return f"{name} on {resource} by {who}{added}{changed}{note}"


def lookup(scope: Scope) -> tuple[list[dict[str, Any]], str | None]:
    """The window's write events, and why reading stopped early (None when all pages were read)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": scope.window.start,
        "EndTime": scope.window.end,
        "MaxResults": 50,
    }
    for number in range(1, MAX_PAGES + 1):
        try:
            page = scope.clients.cloudtrail.lookup_events(**kwargs)
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            if number == 1:
                raise  # nothing read at all: the whole source is unavailable
            return found, f"page {number} failed ({error_code(err)}); older events were not read"
        found.extend(page.get("Events", []))
        if not page.get("NextToken"):
            return found, None
        kwargs["NextToken"] = page["NextToken"]
    return found, f"stopped after {MAX_PAGES} pages ({len(found)} write events); older events were not read"


def match(event: dict[str, Any], target: Target) -> dict[str, Any] | None:
    """The facts of an event that changed one of our resources, or None."""
    name = base_name(str(event.get("EventName", "")))
    if name not in EVENTS:
        return None
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except json.JSONDecodeError:
        record = {}
    if record.get("errorCode"):
        return None  # a call that failed changed nothing
    request = record.get("requestParameters") or {}
    for kind, parameter in EVENTS[name]:
        wanted = our_resource(target, kind)
        if names_resource(request.get(parameter), wanted) or any(
            names_resource(r.get("ResourceName"), wanted) for r in event.get("Resources", [])
        ):
            fields = changed_fields(name, request)
            return {
                "event_name": name,
                "kind": kind,
                "resource": wanted,
                "actor": actor_of(record, event),
                "changed_at": iso(event["EventTime"]),
                "injected_sids": injected_sids_in(request, target),
                "fields": fields,
                "harmless": harmless(name, fields),
            }
    return None


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    events, stopped = lookup(scope)
    matches = [(e["EventTime"], facts) for e in events if (facts := match(e, target))]
    for moment, facts in sorted(matches, key=lambda m: m[0]):
        text = describe(
            facts["event_name"], facts["resource"], facts["actor"], target, facts["injected_sids"], facts["fields"]
        )
        out.add(text, facts, time=moment, event=text)
    caveat = (
        f"CloudTrail event history: {len(matches)} matching change events among {len(events)} write events in "
        f"the window. Delivery typically lags up to ~5 minutes, so changes after "
        f"{iso(scope.now - DELIVERY_DELAY)} may not have arrived yet (not waited for); object deletions are "
        "data events, absent from event history."
    )
    if stopped:
        caveat += f" Reading stopped: {stopped}."
    out.add(caveat, {"summary": True, "events": len(matches)})
    return out.items
