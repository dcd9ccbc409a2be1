"""The image function's resource policy: may API Gateway invoke it for this API's GET /random?

API Gateway invokes the function with `aws:SourceArn` = arn:aws:execute-api:<region>:<account>:<api id>/
<stage>/GET/random. A statement applies when it allows `apigateway.amazonaws.com` (or everyone)
`lambda:InvokeFunction` on the function and its conditions hold for that SourceArn and this account.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable, is_code
from drill.investigator.model import Evidence
from drill.investigator.policy import Caller, action_matches, as_list, condition_applies, resource_matches, statements

SOURCE = "function_policy"
SERVICE = "apigateway.amazonaws.com"


def names_api_gateway(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return SERVICE in as_list(principal.get("Service")) or "*" in as_list(principal.get("AWS"))
    return False


def source_arns(statement: dict[str, Any]) -> list[str]:
    """The SourceArn values a statement's conditions name (for the evidence: which API it lets in)."""
    found = []
    for block in (statement.get("Condition") or {}).values():
        if isinstance(block, dict):
            found += [str(v) for k, vs in block.items() if k.lower() == "aws:sourcearn" for v in as_list(vs)]
    return found


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    source_arn = target.invoke_source_arn()
    if source_arn is None:
        raise SourceUnavailable(target.notes.get("rest_api_id", "the REST API's id is unknown"))
    try:
        document = scope.clients.lambda_.get_policy(FunctionName=target.function_name)["Policy"]
    except ClientError as err:
        if not is_code(err, "ResourceNotFoundException"):
            raise
        document = None  # a function without any resource policy
    caller = Caller.service(target.account, {"aws:SourceArn": (source_arn,), "aws:SourceAccount": (target.account,)})
    allowing, uncertain, others = [], [], []
    for index, statement in enumerate(statements(document) if document else []):
        if statement.get("Effect") != "Allow" or not names_api_gateway(statement.get("Principal")):
            continue
        if not action_matches(statement, "lambda:InvokeFunction"):
            continue
        if not resource_matches(statement, target.function_arn) and not resource_matches(
            statement, f"{target.function_arn}:$LATEST"
        ):
            continue
        label = str(statement.get("Sid") or f"#{index}")
        applies, why = condition_applies(statement, caller)
        if applies:
            allowing.append(label)
        elif applies is None:
            uncertain.append(f"{label} ({why})")
        else:
            others.append(f"{label} (SourceArn {', '.join(source_arns(statement)) or 'none'})")
    facts = {"function": target.function_name, "source_arn": source_arn, "api": target.rest_api_id, "others": others}
    if allowing:
        out.add(
            f"function {target.function_name}'s resource policy lets API {target.rest_api_id} invoke it for GET "
            f"/random (statement {', '.join(allowing)})",
            {**facts, "allows_api": True, "certain": True, "statements": allowing},
        )
        return out.items
    where = "has no resource policy, so nothing lets" if document is None else "has no statement that lets"
    text = (
        f"function {target.function_name} {where} apigateway.amazonaws.com invoke it for {source_arn}"
        + (f"; other API Gateway statements: {'; '.join(others)}" if others else "")
        + (f"; uncertain: {'; '.join(uncertain)}" if uncertain else "")
    )
    out.add(text, {**facts, "allows_api": None if uncertain else False, "certain": not uncertain})
    return out.items
