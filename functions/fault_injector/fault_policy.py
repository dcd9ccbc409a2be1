"""Pure bucket-policy helpers of the fault injector: its two statements, how they are recognised, merged
and removed. No AWS calls here.

A statement is the fault's own only when it is EQUAL to one of the two fault statements for this bucket
and role, compared after normalising both (key order irrelevant, a one-element list equals its only
element, lists compared as sorted sets). A statement that merely carries the `AiopsFaultInjection` Sid
prefix with other content (another principal, another action) is "foreign": kept, reported, never
removed — removing a Deny someone else wrote would widen access.
"""

from __future__ import annotations

from typing import Any

SID_PREFIX = "AiopsFaultInjection"
DENY_LIST_SID = f"{SID_PREFIX}DenyListBucket"
DENY_GET_SID = f"{SID_PREFIX}DenyGetObject"
POLICY_VERSION = "2012-10-17"

Policy = dict[str, Any]
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


def statements_of(policy: Policy) -> list[Any]:
    """The policy's statements as a list (the policy grammar also allows a single statement object)."""
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


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


def is_ours(statement: object, ours: list[Statement]) -> bool:
    """True when the statement equals one of the fault statements (after normalising both)."""
    return isinstance(statement, dict) and normalised(statement) in {normalised(s) for s in ours}


def has_prefix_sid(statement: object) -> bool:
    return isinstance(statement, dict) and str(statement.get("Sid", "")).startswith(SID_PREFIX)


def fault_sids(policy: Policy, ours: list[Statement]) -> list[str]:
    """Sids of the fault statements present, in the fault's own order."""
    statements = statements_of(policy)
    return [s["Sid"] for s in ours if any(is_ours(t, [s]) for t in statements)]


def foreign_sids(policy: Policy, ours: list[Statement]) -> list[str]:
    """Sids of statements that carry the prefix but are not one of the fault statements."""
    return [str(s["Sid"]) for s in statements_of(policy) if has_prefix_sid(s) and not is_ours(s, ours)]


def with_fault(policy: Policy, ours: list[Statement]) -> tuple[Policy, list[str], list[str]]:
    """(policy with both fault statements, Sids added, Sids in conflict). Nothing is ever removed.

    Returns the policy itself and no Sids when both statements are already present. When a missing
    statement's Sid is held by a foreign statement, nothing is changed and that Sid is reported as a
    conflict: replacing the foreign statement could widen access, and a policy must not repeat a Sid.
    Other statements keep their order and content; the fault's go last.
    """
    statements = statements_of(policy)
    missing = [s for s in ours if not any(is_ours(t, [s]) for t in statements)]
    if not missing:
        return policy, [], []
    taken = {t.get("Sid") for t in statements if isinstance(t, dict)}
    conflicts = [s["Sid"] for s in missing if s["Sid"] in taken]
    if conflicts:
        return policy, [], conflicts
    return {**policy, "Statement": [*statements, *missing]}, [s["Sid"] for s in missing], []


def without_fault(policy: Policy, ours: list[Statement]) -> tuple[Policy, list[str]]:
    """The policy without the statements equal to the fault's, and the Sids removed (each once)."""
    statements = statements_of(policy)
    removed = [t for t in statements if is_ours(t, ours)]
    if not removed:
        return policy, []
    sids = list(dict.fromkeys(str(t["Sid"]) for t in removed))
    return {**policy, "Statement": [t for t in statements if not is_ours(t, ours)]}, sids
