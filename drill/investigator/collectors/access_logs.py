"""The API stage's access log: every request's status as API Gateway answered it.

The log group is the one the stage writes to (GetStage's accessLogSettings.destinationArn), so no name is
guessed. The stack writes one JSON object per request (components/api_logging.py); its `status` field is
what the client got, so the log tells 429 (throttling) from other 4XX, which the 4XXError metric cannot,
and it is current to the second, where metrics arrive a minute or two late. Lines without a `status`
field (another format) are counted and said so.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable, is_code
from drill.investigator.model import RECENT_MINUTES, Evidence, iso

SOURCE = "access_logs"
STATUS_FIELD = "status"  # components/api_logging.py ACCESS_LOG_FIELDS: "$context.status"
MAX_PAGES = 5


def log_group(destination_arn: str) -> str:
    """`arn:aws:logs:<region>:<account>:log-group:<name>[:*]` -> `<name>`."""
    name = destination_arn.split(":log-group:", 1)[-1]
    return name.removesuffix(":*")


def status_of(message: str) -> int | None:
    try:
        line = json.loads(message)
        return int(line[STATUS_FIELD]) if isinstance(line, dict) else None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def destination(scope: Scope) -> str | None:
    target = scope.target
    if not target.rest_api_id:
        raise SourceUnavailable(target.notes.get("rest_api_id", "the REST API's id is unknown"))
    try:
        stage = scope.clients.client("apigateway").get_stage(restApiId=target.rest_api_id, stageName=target.api_stage)
    except ClientError as err:
        if is_code(err, "NotFoundException"):
            raise SourceUnavailable(f"API {target.rest_api_id} has no stage {target.api_stage}") from err
        raise
    return (stage.get("accessLogSettings") or {}).get("destinationArn")


def read(scope: Scope, group: str) -> tuple[list[tuple[datetime, int | None]], bool]:
    """(time, status) of every request in the window, and whether reading stopped early."""
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(scope.window.start.timestamp() * 1000),
        "endTime": int(scope.window.end.timestamp() * 1000),
    }
    found = []
    for _ in range(MAX_PAGES):
        page = scope.clients.logs.filter_log_events(**kwargs)
        for event in page.get("events", []):
            found.append((datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC), status_of(event["message"])))
        if not page.get("nextToken"):
            return found, False
        kwargs["nextToken"] = page["nextToken"]
    return found, True


def collect(scope: Scope) -> list[Evidence]:
    out = EvidenceList(SOURCE, scope)
    arn = destination(scope)
    if not arn:
        out.add(f"stage {scope.target.api_stage} writes no access log", {"configured": False})
        return out.items
    group = log_group(arn)
    try:
        requests, truncated = read(scope, group)
    except ClientError as err:
        if not is_code(err, "ResourceNotFoundException"):
            raise
        out.add(f"access log group {group} does not exist", {"configured": True, "group": group, "requests": 0})
        return out.items
    statuses = [status for _, status in requests if status is not None]
    failures = sorted(t for t, status in requests if status is not None and status >= 500)
    recent_since = scope.now - timedelta(minutes=RECENT_MINUTES)
    recent = [status for t, status in requests if status is not None and t >= recent_since]
    facts = {
        "configured": True,
        "group": group,
        "requests": len(statuses),
        "without_status": len(requests) - len(statuses),
        "5xx": sum(1 for s in statuses if s >= 500),
        "4xx": sum(1 for s in statuses if 400 <= s < 500),
        "429": sum(1 for s in statuses if s == 429),
        "recent": len(recent),
        "recent_5xx": sum(1 for s in recent if s >= 500),
        "recent_429": sum(1 for s in recent if s == 429),
        "first": iso(failures[0]) if failures else None,
        "last": iso(failures[-1]) if failures else None,
        "truncated": truncated,
    }
    detail = (
        f"access log {group}: {facts['requests']} requests in the window, {facts['5xx']} 5XX, {facts['4xx']} 4XX "
        f"({facts['429']} of them 429); in the last {RECENT_MINUTES} minutes {facts['recent']} requests, "
        f"{facts['recent_5xx']} 5XX"
        + (f"; {facts['without_status']} lines without a `{STATUS_FIELD}` field" if facts["without_status"] else "")
        + ("; reading stopped after the first pages" if truncated else "")
    )
    out.add(detail, facts, time=failures[0] if failures else None)
    return out.items
