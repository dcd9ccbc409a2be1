"""The tags on the resources the investigation examined, and which application tag keys they lack.

Cheap on purpose: one Resource Groups Tagging API call (GetResources with the ARNs: bucket, function,
parameter, alarms), plus the REST API's own tags (apigateway:GetRestApi) and the role's
(iam:ListRoleTags). GetResources returns only resources that are (or were) tagged: an ARN it leaves
out carries no tags.
"""

from __future__ import annotations

from typing import Any

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import APPLICATION_TAG_KEYS, Evidence

SOURCE = "tags"


def examined(scope: Scope) -> dict[str, str]:
    """ARN -> kind of every examined resource the Tagging API covers."""
    target = scope.target
    arns = {target.bucket_arn: "bucket", target.function_arn: "function", target.parameter_arn: "parameter"}
    for name in target.alarms.values():
        arns[f"arn:aws:cloudwatch:{target.region}:{target.account}:alarm:{name}"] = "alarm"
    return arns


def _add(out: EvidenceList, resource: str, kind: str, tags: dict[str, str]) -> None:
    missing = [k for k in APPLICATION_TAG_KEYS if k not in tags]
    shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"
    lacks = f"; lacks {', '.join(missing)}" if missing else ""
    out.add(
        f"{kind} {resource}: {shown}{lacks}", {"resource": resource, "kind": kind, "tags": tags, "missing": missing}
    )


def _other(scope: Scope, out: EvidenceList, resource: str, kind: str, read: Any) -> None:
    """Tags read by a per-service call; a failure there is noted on the item, not fatal to the source."""
    try:
        tags = read()
    except FATAL_ERRORS:
        raise
    except SOURCE_ERRORS as err:
        out.add(f"{kind} {resource}: tags not read ({error_code(err)})", {"resource": resource, "kind": kind})
        return
    _add(out, resource, kind, tags)


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    arns = examined(scope)
    tagging = scope.clients.client("resourcegroupstaggingapi")
    found: dict[str, dict[str, str]] = {}
    kwargs: dict[str, Any] = {"ResourceARNList": list(arns)}
    for _ in range(5):  # 100 ARNs per call at most; one page is the rule here
        page = tagging.get_resources(**kwargs)
        for mapping in page.get("ResourceTagMappingList", []):
            found[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
        if not page.get("PaginationToken"):
            break
        kwargs["PaginationToken"] = page["PaginationToken"]
    for arn, kind in arns.items():
        _add(out, arn, kind, found.get(arn, {}))
    if target.rest_api_id:
        api_arn = f"arn:aws:apigateway:{target.region}::/restapis/{target.rest_api_id}"
        apigateway = scope.clients.client("apigateway")
        _other(
            scope,
            out,
            api_arn,
            "api",
            lambda: dict(apigateway.get_rest_api(restApiId=target.rest_api_id).get("tags") or {}),
        )
    if target.role_name:
        iam = scope.clients.iam

        def role_tags() -> dict[str, str]:
            return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=target.role_name).get("Tags", [])}

        _other(scope, out, target.role_arn or target.role_name, "role", role_tags)
    return out.items
