"""The injected fault as data: exactly the fault injector's two statements, recognised by equality.

The contract with functions/fault_injector (packaged alone, so it keeps its own copy in its
fault_policy.py): `SID_PREFIX`, the Sids, `partition_of`, `fault_statements` and `normalised` here are the
function's, verbatim, and tests/test_fault_policy_copies.py proves both copies build the same statements and
judge every statement alike. A statement is the fault only when it EQUALS one of the two statements after
normalising (a one-element list equals its element, lists compare as sets, key order is irrelevant); one that
merely carries the `AiopsFaultInjection` Sid prefix is someone else's. The drill's restore removes only these
statements, and the investigator calls a Deny "injected" only when it is one of them.
"""

from __future__ import annotations

from typing import Any

SID_PREFIX = "AiopsFaultInjection"
DENY_LIST_SID = f"{SID_PREFIX}DenyListBucket"
DENY_GET_SID = f"{SID_PREFIX}DenyGetObject"

Statement = dict[str, Any]


def partition_of(arn: str) -> str:
    """The ARN's partition (aws, aws-cn, aws-us-gov); "aws" when it is not an ARN."""
    parts = arn.split(":", 2)
    return parts[1] if len(parts) == 3 and parts[0] == "arn" and parts[1] else "aws"


def fault_statements(bucket: str, role_arn: str) -> list[Statement]:
    """The two statements the drill adds: the role can neither list the bucket nor read its objects.

    The bucket's ARN is in the role's partition (one account, one partition): S3 rejects a policy whose
    Resource names another partition's ARN, so "arn:aws:s3:::" would fail in China and GovCloud.
    """
    principal = {"AWS": role_arn}
    bucket_arn = f"arn:{partition_of(role_arn)}:s3:::{bucket}"
    return [
        {
            "Sid": DENY_LIST_SID,
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
        },
        {
            "Sid": DENY_GET_SID,
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn}/*",
        },
    ]


def normalised(value: Any) -> Any:
    """A hashable form in which equivalent policy JSON compares equal.

    Objects: key order irrelevant. Lists: a set (order and duplicates irrelevant), and a one-element list
    equals its element — the policy grammar treats `"Action": "s3:GetObject"` and `["s3:GetObject"]` alike.
    """
    if isinstance(value, dict):
        return ("object", tuple(sorted((str(k), normalised(v)) for k, v in value.items())))
    if isinstance(value, list):
        items = sorted({normalised(v) for v in value}, key=repr)
        return items[0] if len(items) == 1 else ("list", tuple(items))
    return value


def is_fault(statement: Any, bucket: str, role_arn: str | None) -> bool:
    """Whether one statement is one of the injected fault's (never, when the denied role is unknown).

    The function's `is_ours(statement, fault_statements(bucket, role_arn))`."""
    if not isinstance(statement, dict) or not role_arn:
        return False
    return normalised(statement) in {normalised(s) for s in fault_statements(bucket, role_arn)}
