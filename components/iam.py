"""IAM policy documents as Python data, shared by the components."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def service_trust_policy(service: str, condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A role trust policy that lets one AWS service principal assume the role, optionally conditioned."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if condition:
        statement["Condition"] = dict(condition)
    return {"Version": "2012-10-17", "Statement": [statement]}
