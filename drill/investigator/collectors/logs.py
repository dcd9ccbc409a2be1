"""The image function's structured error lines ("aws call failed"), grouped by AWS error code."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import EvidenceList, Scope, is_code
from drill.investigator.model import Evidence, iso

SOURCE = "logs"
ERROR_MESSAGE = "aws call failed"  # the image function's contract for AWS errors
MAX_PAGES = 5


def parse(message: str) -> dict[str, Any] | None:
    """A Lambda JSON log line with the error fields, or None for anything else."""
    try:
        line = json.loads(message)
    except json.JSONDecodeError:
        return None
    if not isinstance(line, dict) or line.get("message") != ERROR_MESSAGE:
        return None
    return line


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    groups: dict[tuple, dict[str, Any]] = {}
    kwargs = {
        "logGroupName": target.log_group,
        "startTime": int(scope.window.start.timestamp() * 1000),
        "endTime": int(scope.window.end.timestamp() * 1000),
        # A quoted term is understood by CloudWatch Logs and by moto alike; JSON is parsed here.
        "filterPattern": f'"{ERROR_MESSAGE}"',
    }
    try:
        for _ in range(MAX_PAGES):
            page = scope.clients.logs.filter_log_events(**kwargs)
            for event in page.get("events", []):
                line = parse(event.get("message", ""))
                if line is None:
                    continue
                key = (line.get("error_code"), line.get("operation"), line.get("bucket"), line.get("parameter"))
                moment = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
                group = groups.setdefault(key, {"count": 0, "first": moment, "last": moment})
                group["count"] += 1
                group["first"], group["last"] = min(group["first"], moment), max(group["last"], moment)
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
    except ClientError as err:
        if not is_code(err, "ResourceNotFoundException"):
            raise
        out.add(f"log group {target.log_group} does not exist (the function has not run yet)", {"count": 0})
        return out.items
    for (code, operation, bucket, parameter), group in sorted(groups.items(), key=lambda kv: kv[1]["first"]):
        where = f" on bucket {bucket}" if bucket else f" on parameter {parameter}" if parameter else ""
        out.add(
            f"{group['count']} '{ERROR_MESSAGE}' line{'' if group['count'] == 1 else 's'} in {target.log_group}: "
            f"{code} from {operation}{where} "
            f"(first {iso(group['first'])}, last {iso(group['last'])})",
            {
                "error_code": code,
                "operation": operation,
                "bucket": bucket,
                "parameter": parameter,
                "count": group["count"],
                "first": iso(group["first"]),
                "last": iso(group["last"]),
                "resource": target.function_name,
            },
            time=group["first"],
            event=f"image function starts failing: {code} from {operation}",
        )
    if not groups:
        out.add(f"no '{ERROR_MESSAGE}' lines in {target.log_group} in the window", {"count": 0})
    return out.items
