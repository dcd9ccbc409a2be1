"""The image function's role: may it read the parameter, list the bucket and get its objects?

`iam:SimulatePrincipalPolicy` answers authoritatively where it is available (it needs
`iam:SimulatePrincipalPolicy` permission; moto lacks it). Otherwise the role's inline and attached
policies and its permissions boundary are evaluated here, wildcards and explicit Deny included.
Service control policies and session policies are not visible to either method.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors._base import (
    EvidenceList,
    Scope,
    SourceUnavailable,
    function_caller,
    image_keys,
    sample_object_arn,
)
from drill.investigator.model import Evidence
from drill.investigator.policy import identity_decision

SOURCE = "role_policy"


SIMULATED_PER_CALL = 100  # resource ARNs per SimulatePrincipalPolicy call (one EvaluationResult per action)


def required_permissions(scope: Scope) -> list[tuple[str, str]]:
    """The calls the function makes: GetParameter, ListBucket, and GetObject on every listed image (a Deny
    on some keys fails only the requests that pick them), or on a stand-in key when none is listed."""
    target = scope.target
    objects = [f"{target.bucket_arn}/{key}" for key in image_keys(scope)] or [sample_object_arn(scope)]
    return [
        ("ssm:GetParameter", target.parameter_arn),
        ("s3:ListBucket", target.bucket_arn),
        *(("s3:GetObject", arn) for arn in objects),
    ]


def simulated_label(statement: dict[str, Any]) -> str:
    """Name a simulator match the way local evaluation does ("inline policy X" / "managed policy X")."""
    kind = "inline" if statement.get("SourcePolicyType") == "role" else "managed"
    return f"{kind} policy {statement.get('SourcePolicyId', '?')}"


def simulated(result: dict[str, Any], decision_key: str) -> dict[str, Any]:
    boundary = result.get("PermissionsBoundaryDecisionDetail", {}).get("AllowedByPermissionsBoundary") is False
    return {
        "decision": result.get(decision_key, "implicitDeny"),
        "certain": True,
        "statements": [simulated_label(s) for s in result.get("MatchedStatements", [])],
        "boundary": "permissions boundary" if boundary else None,
    }


def simulate(scope: Scope, checks: list[tuple[str, str]]) -> list[dict[str, Any]] | None:
    """Decisions from IAM's policy simulator, or None when it cannot be used here. One call per action and
    SIMULATED_PER_CALL resources; each resource's decision is in ResourceSpecificResults (the top-level
    decision is the most restrictive of them)."""
    iam, role_arn = scope.clients.iam, scope.target.role_arn
    by_resource: dict[tuple[str, str], dict[str, Any]] = {}
    actions = dict.fromkeys(action for action, _ in checks)
    try:
        for action in actions:
            resources = [r for a, r in checks if a == action]
            for start in range(0, len(resources), SIMULATED_PER_CALL):
                chunk = resources[start : start + SIMULATED_PER_CALL]
                found = iam.simulate_principal_policy(
                    PolicySourceArn=role_arn, ActionNames=[action], ResourceArns=chunk
                )["EvaluationResults"]
                result = found[0] if found else {}
                specific = {r.get("EvalResourceName"): r for r in result.get("ResourceSpecificResults", [])}
                for resource in chunk:
                    own = specific.get(resource)
                    if own is None:
                        by_resource[(action, resource)] = simulated(result, "EvalDecision")
                    else:  # the boundary's verdict is reported for the action, not per resource
                        detail = {
                            "PermissionsBoundaryDecisionDetail": result.get("PermissionsBoundaryDecisionDetail", {})
                        }
                        by_resource[(action, resource)] = simulated({**detail, **own}, "EvalResourceDecision")
    except FATAL_ERRORS:
        raise
    except SOURCE_ERRORS:
        return None
    return [by_resource[check] for check in checks]


def role_policies(scope: Scope) -> tuple[dict[str, Any], Any, dict[str, str]]:
    """The role's policy documents by label (inline, customer-managed and AWS-managed attached ones), its
    permissions boundary (or None), and the ARNs by label (managed policies and "permissions boundary X")."""
    iam, role_name = scope.clients.iam, scope.target.role_name
    policies: dict[str, Any] = {}
    arns: dict[str, str] = {}
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for name in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            policies[f"inline policy {name}"] = document  # boto3 decodes IAM documents to dicts
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            label = f"managed policy {attached['PolicyName']}"
            policies[label] = managed_document(scope, attached["PolicyArn"])
            arns[label] = attached["PolicyArn"]
    boundary_arn = iam.get_role(RoleName=role_name)["Role"].get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    boundary = managed_document(scope, boundary_arn) if boundary_arn else None
    if boundary_arn:
        arns[boundary_label(boundary_arn)] = boundary_arn
    return policies, boundary, arns


def boundary_label(arn: str) -> str:
    return f"permissions boundary {arn.rsplit('/', 1)[-1]}"


def managed_document(scope: Scope, arn: str) -> Any:
    iam = scope.clients.iam
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    return iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]


def evaluate_locally(scope: Scope, checks: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], str, dict]:
    policies, boundary, arns = role_policies(scope)
    caller = function_caller(scope)
    label = next((k for k in arns if k.startswith("permissions boundary ")), "permissions boundary")
    results = []
    for action, resource in checks:
        decision = identity_decision(policies, caller, action, resource, boundary, boundary_label=label)
        results.append(
            {
                "decision": decision.decision,
                "certain": decision.certain,
                "statements": [m.label for m in decision.statements],
                "boundary": decision.boundary,
            }
        )
    described = f"{len(policies)} policies" + (" and a permissions boundary" if boundary is not None else "")
    return results, described, arns


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    if not target.role_arn:
        raise SourceUnavailable(target.notes.get("role_arn", "the image function's role is unknown"))
    checks = required_permissions(scope)
    results = simulate(scope, checks)
    arns: dict[str, str] = {}
    if results is not None:
        method, how = "simulate", "iam:SimulatePrincipalPolicy"
    else:
        try:
            results, described, arns = evaluate_locally(scope, checks)
        except ClientError as err:
            raise SourceUnavailable(
                f"iam:SimulatePrincipalPolicy unavailable and the role's policies unreadable ({error_code(err)})"
            ) from err
        method, how = "local", f"local evaluation of the role's {described} (policy simulator unavailable)"
    for (action, resource), result, share in aggregate(checks, results, listed=bool(image_keys(scope))):
        decision, certain = result["decision"], result["certain"]
        by = f" by {', '.join(result['statements'])}" if result["statements"] else ""
        where = resource if share is None else images(share)
        if decision == "allowed":
            text = f"role {target.role_name} allows {action} on {where}{by}"
        elif decision == "explicitDeny":
            text = f"role {target.role_name} explicitly denies {action} on {where}{by}"
        elif result.get("boundary"):
            text = f"role {target.role_name} may not {action} on {where}: its {result['boundary']} does not allow it"
        else:
            text = f"role {target.role_name} does not allow {action} on {where} (no Allow statement matches)"
        if not certain:
            text += " (uncertain: a condition could not be evaluated)"
        out.add(
            f"{text}; {how}",
            {
                "action": action,
                "resource": resource,
                "decision": decision,
                "certain": certain,
                "method": method,
                "role": target.role_arn,
                "statements": result["statements"],
                "boundary": result.get("boundary"),
                "policy_arns": arns,
                **({} if share is None else {f"keys_{k}": v for k, v in share.items() if k != "share"}),
                **({} if share is None else {"share": share["share"]}),
            },
        )
    return out.items


def images(share: dict[str, Any]) -> str:
    if share["blocked"]:
        return f"{share['blocked']} of {share['listed']} listed images ({share['share']:.0%})"
    return f"all {share['listed']} listed images"


def aggregate(
    checks: list[tuple[str, str]], results: list[dict[str, Any]], *, listed: bool
) -> list[tuple[tuple[str, str], dict[str, Any], dict[str, Any] | None]]:
    """One verdict per action: GetObject's over every listed key, with the share of keys it blocks (the
    function picks a key at random, so that is the share of requests that fail). Its resource is the first
    blocked key; its decision an explicit Deny if any blocked key has one."""
    single = [(c, r, None) for c, r in zip(checks, results, strict=True) if c[0] != "s3:GetObject"]
    keys = [(c, r) for c, r in zip(checks, results, strict=True) if c[0] == "s3:GetObject"]
    if not listed:  # a stand-in key: no share to give
        return [*single, *((c, r, None) for c, r in keys)]
    blocked = [(c, r) for c, r in keys if r["decision"] != "allowed"]
    share = {"blocked": len(blocked), "listed": len(keys), "share": round(len(blocked) / len(keys), 3)}
    if not blocked:
        return [*single, (keys[0][0], keys[0][1], share)]
    explicit = [(c, r) for c, r in blocked if r["decision"] == "explicitDeny"]
    check, first = (explicit or blocked)[0]
    merged = {
        **first,
        "certain": all(r["certain"] for _, r in blocked),
        "statements": sorted({label for _, r in blocked for label in r["statements"]}),
    }
    return [*single, (check, merged, share)]
