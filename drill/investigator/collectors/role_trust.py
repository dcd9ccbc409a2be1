"""The image function's role's trust policy: may Lambda still assume it?

Lambda assumes the execution role (`sts:AssumeRole` by `lambda.amazonaws.com`) to run the function; when
the trust policy no longer allows it, every invocation fails before the handler runs, so the function
writes no log line at all. A Deny for Lambda wins over any Allow. Conditions on keys the investigator
cannot know for Lambda's own call make the answer uncertain, and the evidence names them.
"""

from __future__ import annotations

from typing import Any

from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable
from drill.investigator.model import Evidence
from drill.investigator.policy import Caller, action_matches, as_list, condition_applies, statements

SOURCE = "role_trust"
SERVICE = "lambda.amazonaws.com"


def names_lambda(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return SERVICE in as_list(principal.get("Service")) or "*" in as_list(principal.get("AWS"))
    return False


def decide(document: Any, account: str) -> tuple[str, bool, list[str]]:
    """("allowed" | "denied" | "not allowed", certain, the deciding statements) for Lambda's AssumeRole."""
    caller = Caller.service(account, {})
    allows, denies, uncertain = [], [], []
    for index, statement in enumerate(statements(document)):
        if not names_lambda(statement.get("Principal")) or not action_matches(statement, "sts:AssumeRole"):
            continue
        label = str(statement.get("Sid") or f"#{index}")
        applies, why = condition_applies(statement, caller)
        if applies is None:
            uncertain.append(f"{label} ({why})")
        elif applies:
            (denies if statement.get("Effect") == "Deny" else allows).append(label)
    if denies:
        return "denied", True, denies
    if allows:
        return "allowed", True, allows
    return "not allowed", not uncertain, uncertain


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    if not target.role_name:
        raise SourceUnavailable(target.notes.get("role_arn", "the image function's role is unknown"))
    document = scope.clients.iam.get_role(RoleName=target.role_name)["Role"].get("AssumeRolePolicyDocument")
    verdict, certain, deciding = decide(document, target.account)
    by = f" (statement {', '.join(deciding)})" if deciding else ""
    text = {
        "allowed": f"role {target.role_name} trusts {SERVICE}{by}",
        "denied": f"role {target.role_name}'s trust policy denies {SERVICE} sts:AssumeRole{by}",
        "not allowed": f"role {target.role_name}'s trust policy does not let {SERVICE} assume it{by}",
    }[verdict]
    out.add(
        text + ("" if certain else "; uncertain: a condition could not be evaluated"),
        {"role": target.role_arn, "trusted": verdict == "allowed", "verdict": verdict, "certain": certain},
    )
    return out.items
