"""Who makes a request (a `Caller` and the condition keys it carries) and whether a Condition block applies.

Operators covered: String*, Arn*, Bool, Null, Numeric* (with IfExists). A key whose value is not known
exactly but only within a set (the TLS version of the SDK's connection) is evaluated for each possible
value: the same answer for all of them is an answer, different answers make it uncertain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from drill.investigator.policy_documents import as_list, glob_match

Tri = bool | None  # True / False / cannot tell

# The SDK in Lambda negotiates TLS 1.2 or 1.3: AWS endpoints refuse anything older (TLS 1.2 minimum
# since 2024), and which of the two is not logged. Keys listed here hold the possible values.
TLS_VERSIONS = ("1.2", "1.3")
ONE_OF_KEYS = frozenset({"s3:tlsversion"})


@dataclass(frozen=True)
class Situation:
    """What is known about where the image function's calls come from (read from its configuration and its
    role), so condition keys that depend on it can be decided. None: not read (the keys stay unknown)."""

    region: str | None = None
    vpc_id: str | None = None  # the VPC the function runs in ("" when it runs in none)
    role_tags: Mapping[str, str] | None = None


# Keys whose value depends on the network path of a call and that the investigator cannot read: named as
# the exact reason when a condition on them decides a statement.
NETWORK_UNKNOWN = {
    "aws:sourceip": "the public address the function's calls leave from is not known",
    "aws:vpcsourceip": "the address inside the VPC the function's calls come from is not known",
    "aws:sourcevpc": "whether the function's calls reach S3 through a VPC endpoint depends on its route tables",
    "aws:sourcevpce": "whether the function's calls reach S3 through a VPC endpoint depends on its route tables",
}


@dataclass(frozen=True)
class Caller:
    """The identity a request comes from, and the condition keys it carries."""

    role_arn: str
    session_arn: str | None
    account: str
    role_id: str | None = None
    context: Mapping[str, tuple[str, ...]] = ()  # lower-cased condition key -> values
    absent: frozenset[str] = frozenset()  # keys known to be absent from the request (lower-cased)
    absent_prefixes: tuple[str, ...] = ()  # every key under these (lower-cased) not in `context` is absent
    unknown: Mapping[str, str] = field(default_factory=dict)  # key -> why its value cannot be known

    def is_absent(self, key: str) -> bool:
        return key in KNOWN_ABSENT_KEYS or key in self.absent or key.startswith(self.absent_prefixes)

    @classmethod
    def lambda_role(
        cls,
        role_arn: str,
        session_arn: str | None,
        account: str,
        role_id: str | None,
        situation: Situation | None = None,
    ) -> Caller:
        context: dict[str, tuple[str, ...]] = {
            "aws:principalarn": (role_arn,),
            "aws:principalaccount": (account,),
            "aws:principaltype": ("AssumedRole",),
            # The SDK in Lambda always uses HTTPS, so TLS-only statements never match it.
            "aws:securetransport": ("true",),
            "s3:tlsversion": TLS_VERSIONS,
            # The function's own SDK calls: not made by a service on its behalf, not a service principal.
            "aws:viaawsservice": ("false",),
            "aws:principalisawsservice": ("false",),
        }
        if role_id and session_arn:
            context["aws:userid"] = (f"{role_id}:{session_arn.rsplit('/', 1)[-1]}",)
        absent: set[str] = {"aws:calledvia", "aws:calledviafirst", "aws:calledvialast", "aws:sourceidentity"}
        prefixes: list[str] = []
        unknown = dict(NETWORK_UNKNOWN)
        situation = situation or Situation()
        if situation.region:
            context["aws:requestedregion"] = (situation.region,)
        if situation.vpc_id == "":
            # Outside a VPC the calls go to S3's public endpoint: no VPC, no endpoint, no VPC address.
            absent |= {"aws:sourcevpc", "aws:sourcevpce", "aws:vpcsourceip"}
        elif situation.vpc_id:
            unknown["aws:sourcevpc"] = (
                f"the function runs in {situation.vpc_id}; whether its calls reach S3 through a VPC endpoint "
                "depends on its route tables"
            )
        if situation.role_tags is not None:
            # A Lambda role session carries no session tags: its principal tags are the role's tags.
            context |= {f"aws:principaltag/{k.lower()}": (v,) for k, v in situation.role_tags.items()}
            prefixes.append("aws:principaltag/")
        return cls(
            role_arn=role_arn,
            session_arn=session_arn,
            account=account,
            role_id=role_id,
            context=context,
            absent=frozenset(absent),
            absent_prefixes=tuple(prefixes),
            unknown=unknown,
        )

    @classmethod
    def service(cls, account: str, context: Mapping[str, tuple[str, ...]]) -> Caller:
        """A service principal's request (API Gateway invoking a function): only its condition keys matter."""
        return cls(role_arn="", session_arn=None, account=account, context={k.lower(): v for k, v in context.items()})


# Keys a role session's request is known not to carry (so `Null`/`IfExists` can be decided on them).
KNOWN_ABSENT_KEYS = frozenset({"aws:username"})

_POSITIVE = {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "bool"}
_NEGATED = {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}
_NUMERIC = {
    "numericequals": lambda a, b: a == b,
    "numericnotequals": lambda a, b: a != b,
    "numericlessthan": lambda a, b: a < b,
    "numericlessthanequals": lambda a, b: a <= b,
    "numericgreaterthan": lambda a, b: a > b,
    "numericgreaterthanequals": lambda a, b: a >= b,
}


def _compare(op: str, expected: str, actual: str) -> bool:
    if op in _NUMERIC:
        try:
            return _NUMERIC[op](float(actual), float(expected))
        except ValueError:
            return False  # IAM: a non-numeric value never matches a numeric operator
    if op in {"stringequals", "stringnotequals", "arnequals", "arnnotequals"}:
        return expected == actual
    if op in {"stringequalsignorecase", "stringnotequalsignorecase", "bool"}:
        return expected.lower() == actual.lower()
    return glob_match(expected, actual)  # *like operators


def _key_matches(op: str, wanted: Any, actual: tuple[str, ...]) -> bool:
    hit = any(_compare(op, str(w), a) for w in as_list(wanted) for a in actual)
    if op == "numericnotequals":  # matches when the value equals none of the listed numbers
        hit = all(_compare(op, str(w), a) for w in as_list(wanted) for a in actual)
    return not hit if op in _NEGATED else hit


def _why(caller: Caller, key: str) -> str:
    return f" ({caller.unknown[key]})" if key in caller.unknown else ""


def _null(block: Mapping[str, Any], caller: Caller) -> tuple[Tri, str]:
    results: list[Tri] = []
    for key, wanted in block.items():
        k = key.lower()
        if k in caller.context:
            present = True
        elif caller.is_absent(k):
            present = False
        else:
            return None, f"Null on {key} not evaluated" + _why(caller, k)
        results.append(any(str(w).lower() == str(not present).lower() for w in as_list(wanted)))
    return all(results), "Null"


def _evaluate_operator(operator: str, block: Mapping[str, Any], caller: Caller) -> tuple[Tri, str]:
    op = operator.lower()
    if ":" in op:  # ForAnyValue:/ForAllValues: are for multivalued keys, which these requests lack
        return None, f"{operator} not evaluated"
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    if op == "null":
        return _null(block, caller)
    if op not in _POSITIVE | _NEGATED | set(_NUMERIC):
        why = "".join(_why(caller, k.lower()) for k in block)
        return None, f"operator {operator} on {', '.join(block)} not evaluated{why}"
    for key, wanted in block.items():
        k = key.lower()
        if k not in caller.context:
            if caller.is_absent(k):
                # Missing key: IfExists and negated operators match, positive ones do not.
                if not (if_exists or op in _NEGATED):
                    return False, f"{key} absent"
                continue
            return None, f"condition key {key} not evaluated" + _why(caller, k)
        actual = caller.context[k]
        if k in ONE_OF_KEYS:
            answers = {_key_matches(op, wanted, (value,)) for value in actual}
            if answers == {False}:
                return False, f"{operator} {key} does not match (the request carries one of {', '.join(actual)})"
            if answers != {True}:
                return None, f"{operator} {key} depends on which of {', '.join(actual)} the request carries"
        elif not _key_matches(op, wanted, actual):
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
