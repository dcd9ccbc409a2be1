"""The event API Gateway's REST Lambda proxy integration sends (version 1.0): what the drill invokes the
image function with directly, and what the rehearsal's local API sends it."""

from __future__ import annotations

import uuid
from typing import Any


def proxy_event(method: str, resource: str, stage: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The REST API Lambda proxy integration's event (version 1.0) for a request without a body."""
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": headers.get("User-Agent", "")},
        },
        "body": None,
        "isBase64Encoded": False,
    }
