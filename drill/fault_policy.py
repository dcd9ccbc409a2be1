"""The injected fault as data: exactly the fault injector's two statements, recognised by equality.

The contract with functions/fault_injector (which is packaged alone, so it keeps its own copy): a
statement is the fault only when it EQUALS one of the two statements below after normalising (a
one-element list equals its string, lists compare as sets, key order is irrelevant). A statement that
merely carries the `AiopsFaultInjection` Sid prefix is someone else's. The drill's restore removes only
these statements, and the investigator calls a Deny "injected" only when it is one of them.
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "AiopsFaultInjection"


def fault_statements(bucket: str, role_arn: str) -> list[dict[str, Any]]:
    principal = {"AWS": role_arn}
    return [
        {
            "Sid": f"{PREFIX}DenyListBucket",
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": f"{PREFIX}DenyGetObject",
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    ]


def normalise(value: Any) -> Any:
    """A form in which equal policy elements compare equal."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        unique = sorted({json.dumps(normalise(item), sort_keys=True) for item in value})
        items = [json.loads(text) for text in unique]
        return items[0] if len(items) == 1 else items
    return value


def is_fault(statement: Any, bucket: str, role_arn: str | None) -> bool:
    """Whether one statement is one of the injected fault's (never, when the denied role is unknown)."""
    if not isinstance(statement, dict) or not role_arn:
        return False
    return normalise(statement) in [normalise(s) for s in fault_statements(bucket, role_arn)]
