"""A small, explicit IAM policy evaluator: enough to answer "does this deny (or allow) the image role?".

It covers Action/NotAction, Resource/NotResource, Principal/NotPrincipal and the condition operators
used on principal and transport keys. Anything it cannot evaluate makes the answer *uncertain* rather
than guessed, and the evidence says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

INJECTED_SID_PREFIX = "AiopsFaultInjection"

Tri = bool | None  # True / False / cannot tell


@dataclass(frozen=True)
class Caller:
    """The identity a request comes from, and the condition keys it carries."""

    role_arn: str
    session_arn: str | None
    account: str
    role_id: str | None = None
    context: Mapping[str, tuple[str, ...]] = ()  # lower-cased condition key -> values

    @classmethod
    def lambda_role(cls, role_arn: str, session_arn: str | None, account: str, role_id: str | None) -> Caller:
        context: dict[str, tuple[str, ...]] = {
            "aws:principalarn": (role_arn,),
            "aws:principalaccount": (account,),
            "aws:principaltype": ("AssumedRole",),
            # The SDK in Lambda always uses HTTPS, so TLS-only statements never match it.
            "aws:securetransport": ("true",),
        }
        if role_id and session_arn:
            context["aws:userid"] = (f"{role_id}:{session_arn.rsplit('/', 1)[-1]}",)
        return cls(role_arn=role_arn, session_arn=session_arn, account=account, role_id=role_id, context=context)


# Keys a role session's request is known not to carry (so `Null`/`IfExists` can be decided on them).
KNOWN_ABSENT_KEYS = frozenset({"aws:username"})


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters, `?` one character; nothing else is special.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(f"^{body}$", flags)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_glob(pattern, ignore_case).match(value))


def load_document(document: Any) -> dict[str, Any]:
    """Policy documents arrive as dicts (boto3 decodes IAM's) or JSON strings (S3)."""
    if isinstance(document, str):
        document = json.loads(document)
    return document if isinstance(document, dict) else {}


def statements(document: Any) -> list[dict[str, Any]]:
    return [s for s in as_list(load_document(document).get("Statement")) if isinstance(s, dict)]


def injected_sids(document: Any) -> list[str]:
    """Sids of the statements the fault injector adds."""
    return [str(s.get("Sid")) for s in statements(document) if str(s.get("Sid", "")).startswith(INJECTED_SID_PREFIX)]


def without_statements(document: Any, drop: Iterable[int]) -> dict[str, Any] | None:
    """The policy minus the statements at the given indexes; None when nothing would be left."""
    doc = load_document(document)
    dropped = set(drop)
    kept = [s for i, s in enumerate(statements(doc)) if i not in dropped]
    if not kept:
        return None
    return {**doc, "Statement": kept}


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


# ------------------------------------------------------------------------------------------ conditions
_POSITIVE = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "bool"}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}


def _compare(op: str, expected: str, actual: str) -> bool:
    if op in {"stringequals", "stringnotequals", "arnequals", "arnnotequals"}:
        return expected == actual
    if op in {"stringequalsignorecase", "stringnotequalsignorecase", "bool"}:
        return expected.lower() == actual.lower()
    return glob_match(expected, actual)  # *like operators


def _evaluate_operator(operator: str, block: Mapping[str, Any], caller: Caller) -> tuple[Tri, str]:
    op = operator.lower()
    if ":" in op:  # ForAnyValue:/ForAllValues: are for multivalued keys, which these requests lack
        return None, f"{operator} not evaluated"
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    if op == "null":
        results: list[Tri] = []
        for key, wanted in block.items():
            k = key.lower()
            if k in caller.context:
                present = True
            elif k in KNOWN_ABSENT_KEYS:
                present = False
            else:
                return None, f"Null on {key} not evaluated"
            results.append(any(str(w).lower() == str(not present).lower() for w in as_list(wanted)))
        return all(results), "Null"
    if op not in _POSITIVE | _NEGATED:
        return None, f"operator {operator} not evaluated"
    for key, wanted in block.items():
        k = key.lower()
        if k not in caller.context:
            if k in KNOWN_ABSENT_KEYS:
                # Missing key: IfExists and negated operators match, positive ones do not.
                if not (if_exists or op in _NEGATED):
                    return False, f"{key} absent"
                continue
            return None, f"condition key {key} not evaluated"
        actual = caller.context[k]
        hit = any(_compare(op, str(w), a) for w in as_list(wanted) for a in actual)
        if (op in _NEGATED and hit) or (op in _POSITIVE and not hit):
            return False, f"{operator} {key} does not match"
    return True, f"{operator} matches"


def condition_applies(statement: Mapping[str, Any], caller: Caller) -> tuple[Tri, str]:
    """All operators must match; an operator or key we cannot evaluate makes the answer None."""
    condition = statement.get("Condition") or {}
    if not isinstance(condition, Mapping):
        return None, "malformed Condition"
    unknown: list[str] = []
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            return None, "malformed Condition"
        result, why = _evaluate_operator(operator, block, caller)
        if result is False:
            return False, why
        if result is None:
            unknown.append(why)
    if unknown:
        return None, "; ".join(unknown)
    return True, "no condition" if not condition else "condition matches"


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


def identity_decision(
    policies: Mapping[str, Any], caller: Caller, action: str, resource: str, boundary: Any = None
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
            policy="permissions boundary",
            caller=caller,
            action=action,
            resource=resource,
            resource_policy=False,
        )
        if any(m.effect == "Deny" and m.certain for m in bounded):
            return IdentityDecision("explicitDeny", True, tuple(m for m in bounded if m.effect == "Deny"))
        if not any(m.effect == "Allow" for m in bounded):
            return IdentityDecision("implicitDeny", True, ())
    if not allows:
        return IdentityDecision("implicitDeny", certain, tuple(denies))
    return IdentityDecision("allowed", certain and any(m.certain for m in allows), tuple(allows))
