"""A small, explicit IAM policy evaluator: enough to answer "does this deny (or allow) the image role?".

It covers Action/NotAction, Resource/NotResource, Principal/NotPrincipal and the condition operators
used on principal and transport keys (`policy_conditions`). Anything it cannot evaluate makes the
answer *uncertain* rather than guessed, and the evidence says so. Documents and wildcards live in
`policy_documents`; this module re-exports what callers used from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from drill.investigator.policy_conditions import KNOWN_ABSENT_KEYS, Caller, Situation, Tri, condition_applies
from drill.investigator.policy_documents import (
    as_list,
    glob_match,
    load_document,
    statements,
    without_statements,
)

__all__ = [
    "KNOWN_ABSENT_KEYS",
    "Caller",
    "Situation",
    "IdentityDecision",
    "StatementMatch",
    "Tri",
    "action_matches",
    "as_list",
    "condition_applies",
    "glob_match",
    "identity_decision",
    "load_document",
    "matching_statements",
    "resource_matches",
    "statements",
    "without_statements",
]


# ------------------------------------------------------------------------------------------ matching
def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(glob_match(p, action, ignore_case=True) for p in as_list(statement["NotAction"]))
    return any(glob_match(p, action, ignore_case=True) for p in as_list(statement.get("Action")))


def resource_matches(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(glob_match(p, resource) for p in as_list(statement["NotResource"]))
    return any(glob_match(p, resource) for p in as_list(statement.get("Resource")))


def _principal_values(principal: Any) -> tuple[list[str], bool]:
    """(AWS principal strings, is-everyone) of a Principal/NotPrincipal element."""
    if principal == "*":
        return [], True
    if isinstance(principal, Mapping):
        values = [str(v) for v in as_list(principal.get("AWS"))]
        return values, "*" in values
    return [], False


def _names_caller(values: list[str], caller: Caller) -> bool:
    """Does a principal list name this caller (role, its session, its account, its unique id)?"""
    names = {caller.role_arn, caller.account, f"arn:aws:iam::{caller.account}:root"}
    if caller.session_arn:
        names.add(caller.session_arn)
    if caller.role_id:
        names.add(caller.role_id)
    return any(v in names for v in values)


def principal_applies(statement: Mapping[str, Any], caller: Caller) -> tuple[bool, str]:
    """Whether a resource-policy statement's principal covers the caller, and how."""
    if "NotPrincipal" in statement:
        values, everyone = _principal_values(statement["NotPrincipal"])
        if everyone:
            return False, "NotPrincipal excludes everyone"
        # A role session is its own principal: to exempt it, NotPrincipal must list the session ARN and
        # the account (IAM docs, NotPrincipal with Deny); listing only the role ARN still denies it.
        account_listed = caller.account in values or f"arn:aws:iam::{caller.account}:root" in values
        if caller.session_arn in values and account_listed:
            return False, "NotPrincipal exempts the role's session"
        return True, "NotPrincipal does not exempt the role's session"
    values, everyone = _principal_values(statement.get("Principal"))
    if everyone:
        return True, "Principal *"
    if caller.role_arn in values:
        return True, "Principal is the role"
    if caller.session_arn and caller.session_arn in values:
        return True, "Principal is the role's session"
    if _names_caller(values, caller):
        return True, "Principal is the role's account"
    return False, "Principal does not name the role"


# ------------------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class StatementMatch:
    """A statement that applies (certainly, or possibly when `certain` is False) to one request."""

    policy: str  # which policy document it is in ("bucket policy", an inline or managed policy name)
    index: int
    sid: str | None
    effect: Literal["Allow", "Deny"]
    action: str
    resource: str
    certain: bool
    how: str

    @property
    def label(self) -> str:
        return f"{self.policy} statement {self.sid or f'#{self.index}'}"


def matching_statements(
    document: Any, *, policy: str, caller: Caller, action: str, resource: str, resource_policy: bool
) -> list[StatementMatch]:
    """Statements of one document that apply to `caller` doing `action` on `resource`."""
    found = []
    for index, statement in enumerate(statements(document)):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            continue
        if not action_matches(statement, action) or not resource_matches(statement, resource):
            continue
        how = "identity policy"
        if resource_policy:
            applies, how = principal_applies(statement, caller)
            if not applies:
                continue
        condition, why = condition_applies(statement, caller)
        if condition is False:
            continue
        found.append(
            StatementMatch(
                policy=policy,
                index=index,
                sid=statement.get("Sid"),
                effect=effect,
                action=action,
                resource=resource,
                certain=condition is True,
                how=how if condition is True or not statement.get("Condition") else f"{how}; {why}",
            )
        )
    return found


Decision = Literal["allowed", "explicitDeny", "implicitDeny"]


@dataclass(frozen=True)
class IdentityDecision:
    decision: Decision
    certain: bool
    statements: tuple[StatementMatch, ...]  # the deciding statements (Deny ones for explicitDeny)
    boundary: str | None = None  # set when the permissions boundary (this one) is what refuses the action


def identity_decision(
    policies: Mapping[str, Any],
    caller: Caller,
    action: str,
    resource: str,
    boundary: Any = None,
    boundary_label: str = "permissions boundary",
) -> IdentityDecision:
    """Evaluate identity policies (and a permissions boundary) the way IAM does: Deny wins, then Allow."""
    matches = [
        m
        for name, document in policies.items()
        for m in matching_statements(
            document, policy=name, caller=caller, action=action, resource=resource, resource_policy=False
        )
    ]
    denies = [m for m in matches if m.effect == "Deny"]
    if any(m.certain for m in denies):
        return IdentityDecision("explicitDeny", True, tuple(m for m in denies if m.certain))
    allows = [m for m in matches if m.effect == "Allow"]
    certain = not denies  # an uncertain Deny leaves the answer uncertain
    if boundary is not None:
        bounded = matching_statements(
            boundary,
            policy=boundary_label,
            caller=caller,
            action=action,
            resource=resource,
            resource_policy=False,
        )
        if any(m.effect == "Deny" and m.certain for m in bounded):
            denied = tuple(m for m in bounded if m.effect == "Deny")
            return IdentityDecision("explicitDeny", True, denied, boundary=boundary_label)
        if not any(m.effect == "Allow" for m in bounded):
            return IdentityDecision("implicitDeny", True, (), boundary=boundary_label)
    if not allows:
        return IdentityDecision("implicitDeny", certain, tuple(denies))
    return IdentityDecision("allowed", certain and any(m.certain for m in allows), tuple(allows))
