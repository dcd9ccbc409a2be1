"""Who made each drift difference and when: CloudTrail event history, looked up by event name.

The `cloudtrail` source reads only the investigation's window; a difference from the declared state may be
weeks old. So for the kinds of change the differences need, one LookupEvents per event name (event
history keeps 90 days of management events; 50 events per page, the newest first) is matched locally
to our resources with the `cloudtrail` source's own matcher, and the newest matching event names the
principal and the time. LookupEvents allows 2 requests per second per account and region: at most
MAX_LOOKUPS event names are asked, and the client retries throttling. Lambda's event names carry the
API version (`UpdateFunctionConfiguration20150331v2`), which LookupEvents' EventName must match exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors._base import Scope
from drill.investigator.collectors.cloudtrail import base_name, match
from drill.investigator.collectors.drift_path import Difference

# The area of a difference -> (the event names that change it, the cloudtrail matcher's resource kind).
EVENTS: dict[str, tuple[tuple[str, ...], str]] = {
    "function": (("UpdateFunctionConfiguration20150331v2",), "function"),
    "permission": (("RemovePermission20150331v2", "AddPermission20150331v2"), "function"),
    "stage": (("UpdateStage",), "api"),
    "parameter": (("PutParameter",), "parameter"),
    "bucket_policy": (("PutBucketPolicy", "DeleteBucketPolicy"), "bucket"),
    "trust": (("UpdateAssumeRolePolicy",), "role"),
}
MAX_LOOKUPS = 6
PAGE = 50


def needed(differences: Iterable[Difference]) -> list[str]:
    names = dict.fromkeys(name for d in differences for name in EVENTS[d.area][0])
    return list(names)[:MAX_LOOKUPS]


def lookup(scope: Scope, names: list[str]) -> tuple[list[dict[str, Any]], str | None]:
    """Our resources' change events of those names, newest first, and why reading failed (or None)."""
    found: list[dict[str, Any]] = []
    for name in names:
        try:
            page = scope.clients.cloudtrail.lookup_events(
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=PAGE
            )
        except FATAL_ERRORS:
            raise
        except SOURCE_ERRORS as err:
            code = error_code(err) if not isinstance(err, NotImplementedError) else "not implemented"
            return found, f"CloudTrail LookupEvents failed ({code}): who made the differences is unknown"
        found += [facts for event in page.get("Events", []) if (facts := match(event, scope.target))]
    return sorted(found, key=lambda f: f["changed_at"], reverse=True), None


def change_of(difference: Difference, events: list[dict[str, Any]], resource: str | None) -> dict[str, Any] | None:
    """The newest event that changed the difference's resource (and, for Lambda, its field)."""
    names, kind = EVENTS[difference.area]
    bases = {base_name(name) for name in names}  # the matcher reports base names
    for facts in events:
        if facts["kind"] != kind or facts["event_name"] not in bases or facts["resource"] != resource:
            continue
        if difference.field and facts.get("fields") and difference.field not in facts["fields"]:
            continue
        return facts
    return None


def attribute(scope: Scope, differences: list[Difference]) -> tuple[dict[int, dict[str, Any]], str | None]:
    """For each difference (by index) the change that made it, where CloudTrail shows one; and a caveat."""
    if not differences:
        return {}, None
    events, failed = lookup(scope, needed(differences))
    target = scope.target
    resources = {"function": target.function_name, "api": target.rest_api_id, "parameter": target.parameter_name}
    resources |= {"bucket": target.bucket, "role": target.role_name}
    found = {}
    for index, difference in enumerate(differences):
        if facts := change_of(difference, events, resources[EVENTS[difference.area][1]]):
            found[index] = facts
    return found, failed
