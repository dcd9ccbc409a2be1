"""The request path's declared state against the live one, as pure comparisons: declared values (from
drill/investigator/declared.py) and live API answers in, differences out. No AWS calls: collectors/drift.py
reads the live state, and tests hand-build it.

Each difference says which kind decides whether it breaks a request (`covered_by`): where an existing kind
covers the property, that kind's own check of the live state wins, and the difference is listed as drift,
never blamed by itself (resource policy: api_permission_missing; throttling: api_throttled; the role:
function_role_changed; its trust policy: role_trust_broken; the parameter: parameter_wrong_bucket; a Deny in
the bucket policy: bucket_policy_deny). Only the function's own configuration `breaks`
(function_configuration_changed). Tags and descriptions are never compared.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from drill.fault_policy import is_fault
from drill.investigator.declared import Declared, DeclaredPermission, DeclaredStage
from drill.investigator.model import Target
from drill.investigator.policy import as_list, statements

NOT_KNOWN = object()  # a declared value that refers to something the live stack's outputs do not give


@dataclass(frozen=True)
class Difference:
    area: str  # function, stage, permission, parameter, bucket_policy, trust: what CloudTrail event changes it
    resource: str
    property: str
    declared: Any
    live: Any
    breaks: bool = False  # may explain failing requests by itself (function_configuration_changed)
    covered_by: str | None = None  # the existing kind that decides from the live state
    field: str | None = None  # the request field of the change event (UpdateFunctionConfiguration's)


class Resolver:
    """Puts the live stack's values (from its outputs) in place of the declared references, and says which
    declared values cannot be known (placeholders of the program under mocks)."""

    def __init__(self, declared: Declared, target: Target) -> None:
        api = target.rest_api_id
        live = {
            "bucket": target.bucket,
            "bucket_arn": target.bucket_arn,
            "api_id": api,
            "execution_arn": f"arn:aws:execute-api:{target.region}:{target.account}:{api}" if api else None,
            "role_arn": target.declared_role_arn,
            "function_arn": target.function_arn,
        }
        # Longest first: an execution ARN holds the API id, a bucket ARN the bucket's name.
        self.refs = sorted(((k, live[v]) for k, v in declared.refs.items()), key=lambda kv: -len(kv[0]))
        self.placeholders = declared.placeholders

    def text(self, value: str) -> Any:
        for ref, live in self.refs:
            if ref in value:
                if live is None:
                    return NOT_KNOWN
                value = value.replace(ref, live)
        return NOT_KNOWN if any(p in value for p in self.placeholders) else value

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            resolved = {k: self(v) for k, v in value.items()}
            return NOT_KNOWN if any(v is NOT_KNOWN for v in resolved.values()) else resolved
        if isinstance(value, list | tuple):
            items = [self(v) for v in value]
            return NOT_KNOWN if any(v is NOT_KNOWN for v in items) else type(value)(items)
        return value


def canonical(value: Any) -> Any:
    """A policy value compared by meaning: keys in order, lists as sets, a one-item list as its item."""
    if isinstance(value, Mapping):
        return {k: canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        items = sorted((canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        return items[0] if len(items) == 1 else items
    return value


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


Unknown = list[str]  # what could not be compared, for the evidence


# ------------------------------------------------------------------------------------------ the function's role
def role(declared: Declared, config: Mapping[str, Any], resolve: Resolver, unknown: Unknown) -> list[Difference]:
    function = declared.function
    if function is None or function.role is None:
        return []
    want, have = resolve(function.role), config.get("Role")
    if want is NOT_KNOWN:
        unknown.append("the function's role (output ImageFunctionRoleArn not given)")
        return []
    if want == have:
        return []
    name = str(config.get("FunctionName"))
    return [Difference("function", name, "role", want, have, covered_by="function_role_changed", field="role")]


# ------------------------------------------------------------------------------------------ the stage
STAGE_LIVE = {  # Pulumi's stage property -> GetStage's (with AWS's default when unset)
    "xrayTracingEnabled": ("tracingEnabled", False),
    "cacheClusterEnabled": ("cacheClusterEnabled", False),
    "cacheClusterSize": ("cacheClusterSize", None),
    "variables": ("variables", {}),
}
THROTTLING = ("throttlingRateLimit", "throttlingBurstLimit")


def empty(value: Any) -> bool:
    """Unset, as Pulumi's state records it ("", {}) and as GetStage leaves it out."""
    return value is None or value == "" or value == {} or value == []


def stage(
    declared: DeclaredStage, live: Mapping[str, Any], api: str, resolve: Resolver, unknown: Unknown
) -> list[Difference]:
    """Stage-level settings the stack declares, and every method setting (a live method path the stack does
    not declare is a difference too: a route override of the stage's throttling, say)."""
    found: list[Difference] = []
    resource = f"{api}/{declared.name}"

    def compare(prop: str, want: Any, have: Any, covered_by: str | None = None) -> None:
        want = resolve(want)
        if want is NOT_KNOWN:
            unknown.append(f"stage {declared.name} {prop}")
        elif want != have and not (empty(want) and empty(have)):
            found.append(Difference("stage", resource, prop, want, have, covered_by=covered_by))

    for prop, want in declared.settings.items():
        if prop == "accessLogSettings":
            have = live.get("accessLogSettings") or {}
            for key in ("destinationArn", "format"):
                compare(f"accessLogSettings.{key}", (want or {}).get(key), have.get(key))
        elif prop in STAGE_LIVE:
            key, default = STAGE_LIVE[prop]
            compare(prop, want, live.get(key, default))
    methods = live.get("methodSettings") or {}
    for path, settings in declared.method_settings.items():
        have = methods.get(path) or {}
        for key, want in settings.items():
            compare(f"method {path} {key}", want, have.get(key), "api_throttled" if key in THROTTLING else None)
    for path in sorted(set(methods) - set(declared.method_settings)):
        throttles = any(k in methods[path] for k in THROTTLING)
        found.append(
            Difference(
                "stage",
                resource,
                f"method {path}",
                None,
                dict(methods[path]),
                covered_by="api_throttled" if throttles else None,
            )
        )
    return found


# ------------------------------------------------------------------------------------------ the resource policy
def grants(statement: Mapping[str, Any], permission: Mapping[str, Any]) -> bool:
    """Whether a live resource-policy statement is what the declared `aws.lambda_.Permission` adds."""
    principal = statement.get("Principal")
    services = as_list(principal.get("Service")) if isinstance(principal, Mapping) else as_list(principal)
    if statement.get("Effect") != "Allow" or permission["principal"] not in services:
        return False
    if permission["action"] not in as_list(statement.get("Action")):
        return False
    conditions = {k.lower(): v for block in (statement.get("Condition") or {}).values() for k, v in block.items()}
    wanted = {"aws:sourcearn": permission["source_arn"], "aws:sourceaccount": permission["source_account"]}
    return all(
        (value is None and key not in conditions) or (value is not None and as_list(conditions.get(key)) == [value])
        for key, value in wanted.items()
    )


def described(permission: Mapping[str, Any]) -> str:
    parts = [f"{permission['principal']} {permission['action']}"]
    parts += [f"SourceArn {permission['source_arn']}"] if permission["source_arn"] else []
    parts += [f"SourceAccount {permission['source_account']}"] if permission["source_account"] else []
    return ", ".join(parts)


def permissions(
    declared: tuple[DeclaredPermission, ...], document: Any, function: str, resolve: Resolver, unknown: Unknown
) -> list[Difference]:
    live = statements(document) if document else []
    matched: set[int] = set()
    found = []
    for permission in declared:
        wanted = resolve(
            {
                "principal": permission.principal,
                "action": permission.action,
                "source_arn": permission.source_arn,
                "source_account": permission.source_account,
            }
        )
        if wanted is NOT_KNOWN:
            unknown.append(f"the resource-policy statement for {permission.principal}")
            continue
        hits = [i for i, s in enumerate(live) if grants(s, wanted)]
        matched.update(hits)
        if not hits:
            found.append(
                Difference(
                    "permission",
                    function,
                    "resource policy",
                    described(wanted),
                    None,
                    covered_by="api_permission_missing" if permission.principal == "apigateway.amazonaws.com" else None,
                )
            )
    for index, statement in enumerate(live):
        if index not in matched:
            principal = compact(statement.get("Principal"))
            found.append(
                Difference(
                    "permission",
                    function,
                    f"resource policy statement {statement.get('Sid') or f'#{index}'}",
                    None,
                    compact(statement),
                    covered_by="api_permission_missing" if "apigateway.amazonaws.com" in principal else None,
                )
            )
    return found


# ------------------------------------------------------------------------------------------ the parameter
def parameter(declared: Declared, live: Mapping[str, Any] | None, resolve: Resolver, unknown: Unknown) -> list:
    """The value and the type. Both are parameter_wrong_bucket's: the parameter source reads the value as the
    function does (GetParameter without decryption), so a type that changes what it reads shows there."""
    want = declared.parameter
    if want is None or live is None:  # a missing parameter is parameter_missing's
        return []
    found = []
    value = resolve(want.value) if want.value is not None else NOT_KNOWN
    if value is NOT_KNOWN:
        unknown.append(f"parameter {want.name} value")
    elif value != live.get("Value"):
        found.append(Difference("parameter", want.name, "value", value, live.get("Value"), covered_by=WRONG_BUCKET))
    if want.type is not None and want.type != live.get("Type"):
        found.append(Difference("parameter", want.name, "type", want.type, live.get("Type"), covered_by=WRONG_BUCKET))
    return found


WRONG_BUCKET = "parameter_wrong_bucket"


# ------------------------------------------------------------------------------------------ the bucket policy
def bucket_policy(
    declared: Declared, document: Any, target: Target, resolve: Resolver, unknown: Unknown
) -> list[Difference]:
    """Statements declared and not live, and live and not declared. A live Deny the stack does not declare is
    bucket_policy_deny's to judge (the fault injector's own statements included): it evaluates it for the
    function's role on every image key. A missing declared statement or an extra Allow is drift."""
    if declared.bucket_policy is None:
        return []
    wanted = [resolve(s) for s in declared.bucket_policy]
    if any(s is NOT_KNOWN for s in wanted):
        unknown.append(f"bucket policy of {target.bucket}")
        return []
    live = statements(document) if document else []
    have = [canonical(s) for s in live]
    want = [canonical(s) for s in wanted]
    found = []
    for statement, key in zip(wanted, want, strict=True):
        if key not in have:
            label = f"bucket policy statement {statement.get('Sid') or '(no Sid)'}"
            found.append(Difference("bucket_policy", target.bucket, label, compact(statement), None))
    for statement, key in zip(live, have, strict=True):
        if key not in want:
            injected = is_fault(statement, target.bucket, target.fault_role_arn)
            deny = statement.get("Effect") == "Deny"
            label = f"bucket policy statement {statement.get('Sid') or '(no Sid)'}" + (
                " (the fault injector's)" if injected else ""
            )
            found.append(
                Difference(
                    "bucket_policy",
                    target.bucket,
                    label,
                    None,
                    compact(statement),
                    covered_by="bucket_policy_deny" if deny else None,
                )
            )
    return found


# ------------------------------------------------------------------------------------------ the role's trust policy
def trust(declared: Declared, document: Any, role_name: str, unknown: Unknown) -> list[Difference]:
    if declared.role_trust is None or document is None:
        return []
    want, have = canonical(statements(declared.role_trust)), canonical(statements(document))
    if want == have:
        return []
    return [
        Difference(
            "trust",
            role_name,
            "trust policy",
            compact(statements(declared.role_trust)),
            compact(statements(document)),
            covered_by="role_trust_broken",
        )
    ]
