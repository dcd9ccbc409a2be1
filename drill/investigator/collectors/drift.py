"""Differences between the request path's live state and the stack's declared state.

Compared: the image function's timeout, memory, handler, runtime, layers, environment variables and role;
its resource policy (the declared permissions against the live statements); the stage's stage-level
settings (tracing, cache cluster, access log, variables) and every method setting; the parameter's value
and type; the bucket policy's statements; the function's role's trust policy. The parameter variable is
the `function` source's (function_environment_changed wins there). Every difference names the resource,
the property, the declared and the live value, and, where CloudTrail shows it, who made it and when
(collectors/drift_trail.py). Which kind may blame one is said in drift_path.py; whether a `breaks`
difference explains the symptoms is the ranking's call (rules_path.function_configuration_changed).
Tags and descriptions are never compared.

The live state is read concurrently, each part on its own: a part that cannot be read is named, and the
rest is still compared.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from drill.aws import FATAL_ERRORS, SOURCE_ERRORS, error_code
from drill.investigator.collectors import drift_path, drift_trail
from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable, is_code
from drill.investigator.collectors.drift_path import Difference, Resolver
from drill.investigator.collectors.function import PARAMETER_VARIABLE, last_modified
from drill.investigator.declared import Declared
from drill.investigator.model import Evidence
from drill.investigator.policy import load_document

SOURCE = "drift"
# Declared field -> (the live configuration's key, UpdateFunctionConfiguration's request field).
COMPARED = {
    "timeout": ("Timeout", "timeout"),
    "memory_size": ("MemorySize", "memorySize"),
    "handler": ("Handler", "handler"),
    "runtime": ("Runtime", "runtime"),
    "layers": ("Layers", "layers"),
}


def live_value(config: dict[str, Any], key: str) -> Any:
    if key == "Layers":
        return tuple(layer["Arn"] for layer in config.get("Layers") or [])
    return config.get(key)


def function_differences(declared: Declared, config: dict[str, Any]) -> list[Difference]:
    """Timeout, memory, handler, runtime and layers (these `break`: function_configuration_changed's), and the
    environment variables but the parameter's (drift only)."""
    function, name = declared.function, str(config.get("FunctionName"))
    assert function is not None
    found = []
    for field_name, (key, request_field) in COMPARED.items():
        want, have = getattr(function, field_name), live_value(config, key)
        if want is not None and want != have:
            found.append(Difference("function", name, field_name, want, have, breaks=True, field=request_field))
    variables = dict((config.get("Environment") or {}).get("Variables") or {})
    for variable in sorted(set(function.environment) | set(variables)):
        want, have = function.environment.get(variable), variables.get(variable)
        if variable != PARAMETER_VARIABLE and want != have:
            found.append(Difference("function", name, f"environment {variable}", want, have, field="environment"))
    return found


# ------------------------------------------------------------------------------------------ the live state
def _stage(scope: Scope) -> dict[str, Any] | None:
    target = scope.target
    if not target.rest_api_id or target.api_stage not in (scope.declared.stages if scope.declared else {}):
        return None
    try:
        return scope.clients.client("apigateway").get_stage(restApiId=target.rest_api_id, stageName=target.api_stage)
    except ClientError as err:
        if is_code(err, "NotFoundException"):
            return None  # the api source reports a missing stage
        raise


def _function_policy(scope: Scope) -> Any:
    try:
        return load_document(scope.clients.lambda_.get_policy(FunctionName=scope.target.function_name)["Policy"])
    except ClientError as err:
        if is_code(err, "ResourceNotFoundException"):
            return None  # no resource policy at all: every declared permission is missing
        raise


def _parameter(scope: Scope) -> dict[str, Any] | None:
    declared = scope.declared.parameter if scope.declared else None
    if declared is None:
        return None
    try:
        return scope.clients.ssm.get_parameter(Name=declared.name)["Parameter"]  # as the function reads it
    except ClientError as err:
        if is_code(err, "ParameterNotFound"):
            return None  # parameter_missing's
        raise


def _bucket_policy(scope: Scope) -> Any:
    try:
        return load_document(scope.clients.s3.get_bucket_policy(Bucket=scope.target.bucket)["Policy"])
    except ClientError as err:
        if is_code(err, "NoSuchBucketPolicy", "NoSuchBucket"):
            return None
        raise


def trusted_role(scope: Scope) -> str | None:
    """The role the stack gave the function (output ImageFunctionRoleArn), else the one it runs as."""
    arn = scope.target.declared_role_arn or scope.target.role_arn
    return arn.rsplit("/", 1)[-1] if arn else None


def _trust(scope: Scope) -> Any:
    name = trusted_role(scope)
    if name is None:
        return None
    return scope.clients.iam.get_role(RoleName=name)["Role"].get("AssumeRolePolicyDocument")


READERS: dict[str, Callable[[Scope], Any]] = {
    "stage": _stage,
    "permission": _function_policy,
    "parameter": _parameter,
    "bucket_policy": _bucket_policy,
    "trust": _trust,
}


def _read(reader: Callable[[Scope], Any], scope: Scope) -> tuple[Any, str | None]:
    try:
        return reader(scope), None
    except FATAL_ERRORS:
        raise
    except SOURCE_ERRORS as err:
        return None, error_code(err) if isinstance(err, ClientError) else type(err).__name__


def read_live(scope: Scope) -> tuple[dict[str, Any], dict[str, str]]:
    """Each part of the live state, and the parts that could not be read (part -> why)."""
    with ThreadPoolExecutor(max_workers=len(READERS), thread_name_prefix="drift") as pool:
        futures = {part: pool.submit(_read, reader, scope) for part, reader in READERS.items()}
        results = {part: future.result() for part, future in futures.items()}
    return {p: value for p, (value, _) in results.items()}, {p: why for p, (_, why) in results.items() if why}


def differences(scope: Scope, config: dict[str, Any], live: dict[str, Any], unknown: list[str]) -> list[Difference]:
    declared, target = scope.declared, scope.target
    assert declared is not None
    resolve = Resolver(declared, target)
    found = function_differences(declared, config) + drift_path.role(declared, config, resolve, unknown)
    stage = declared.stages.get(target.api_stage)
    if stage is not None and live["stage"] is not None:
        found += drift_path.stage(stage, live["stage"], str(target.rest_api_id), resolve, unknown)
    found += drift_path.permissions(declared.permissions, live["permission"], target.function_name, resolve, unknown)
    found += drift_path.parameter(declared, live["parameter"], resolve, unknown)
    found += drift_path.bucket_policy(declared, live["bucket_policy"], target, resolve, unknown)
    found += drift_path.trust(declared, live["trust"], trusted_role(scope) or "", unknown)
    return found


# ------------------------------------------------------------------------------------------ the evidence
def detail(d: Difference, source: str, change: dict[str, Any] | None) -> str:
    owner = {"function": "function", "permission": "function", "stage": "API stage", "parameter": "parameter"}
    owner |= {"bucket_policy": "bucket", "trust": "role"}
    text = f"{owner[d.area]} {d.resource}: {d.property} is {d.live!r}, the stack declares {d.declared!r} ({source})"
    if d.covered_by:
        text += f"; {d.covered_by} decides whether it breaks a request"
    if change:
        who = change["actor"] or "an unknown principal"
        text += f"; changed by {who} at {change['changed_at']} ({change['event_name']})"
    return text


def collect(scope: Scope) -> list[Evidence]:
    declared, out = scope.declared, EvidenceList(SOURCE, scope)
    if declared is None:
        raise SourceUnavailable("no declared state was given")
    name = scope.target.function_name
    if declared.function is None:
        out.add(f"{declared.source} declares no function named {name}", {"source": declared.source})
        return out.items
    config = scope.clients.lambda_.get_function_configuration(FunctionName=name)
    modified = last_modified(config)
    live, unread = read_live(scope)
    unknown: list[str] = []
    found = differences(scope, config, live, unknown)
    changes, caveat = drift_trail.attribute(scope, found)
    for index, d in enumerate(found):
        change = changes.get(index)
        out.add(
            detail(d, declared.source, change),
            {
                "resource": d.resource,
                "area": d.area,
                "property": d.property,
                "declared": d.declared,
                "live": d.live,
                # Only a difference from what was deployed can be a cause: the working copy may hold undeployed changes.
                "breaks": d.breaks and declared.deployed,
                "covered_by": d.covered_by,
                "actor": change["actor"] if change else None,
                "changed_at": change["changed_at"] if change else None,
            },
            time=modified if d.area == "function" else None,
        )
    if not found:
        out.add(
            f"the request path as declared: function {name}'s configuration, role and resource policy, the stage, "
            f"the parameter, the bucket policy and the role's trust policy ({declared.source})",
            {"resource": name, "differences": 0},
        )
    gaps = [f"{part} unreadable ({why})" for part, why in unread.items()] + [f"{u} not known" for u in unknown]
    if caveat:
        gaps.append(caveat)
    if gaps:
        out.add(f"drift not compared: {'; '.join(gaps)}", {"summary": True, "not_compared": gaps})
    return out.items
