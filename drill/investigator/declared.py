"""The stack's declared state of the request path, read from `pulumi stack export` (Pulumi's deployment
format, version 3: `{"version": 3, "deployment": {"manifest": ..., "resources": [{"urn", "type", "id",
"inputs", "outputs", ...}]}}`, see docs/investigator-kinds.md).

The export is the state Pulumi recorded at the last update, so every difference from the live resource is
a change made outside Pulumi. Resources are matched by type and the stack's outputs, never by
auto-generated physical names: the image function by its name (output LambdaFunctionName), and from it
the rest of the request path by the references the program declares: the function's role, the parameter
its environment names, the bucket that parameter's value names and that bucket's policy, the function's
API Gateway permission and the REST API its SourceArn names, that API's stages and method settings.

A value that refers to another resource (the bucket's name in the parameter, the API's execution ARN in
the permission) is kept as declared, and `refs` says what it stands for ("bucket", "api_id", ...): the
drift collector puts the live stack's value (from the outputs) in its place. Without the CLI the same
document is computed from the program under mocks (drill/declared/program.py), where such values are
placeholders: `placeholders` lists the ones no reference resolves, and a value holding one is not compared.
Which source is used is decided by drill/declared/source.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

FUNCTION_TYPE = "aws:lambda/function:Function"
ROLE_TYPE = "aws:iam/role:Role"
PARAMETER_TYPE = "aws:ssm/parameter:Parameter"
BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
BUCKET_POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
PERMISSION_TYPE = "aws:lambda/permission:Permission"
REST_API_TYPE = "aws:apigateway/restApi:RestApi"
STAGE_TYPE = "aws:apigateway/stage:Stage"
METHOD_SETTINGS_TYPE = "aws:apigateway/methodSettings:MethodSettings"
Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class DeclaredFunction:
    """The image function's configuration as the stack declares it (Pulumi's property names)."""

    timeout: int | None
    memory_size: int | None
    handler: str | None
    runtime: str | None
    layers: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)
    role: str | None = None  # as declared: a reference to the role's ARN (refs "role_arn")


@dataclass(frozen=True)
class DeclaredParameter:
    name: str
    type: str | None
    value: str | None  # `insecureValue` (plain in the state), else a plain `value`; None when secret


@dataclass(frozen=True)
class DeclaredPermission:
    """One `aws.lambda_.Permission` of the image function (what becomes one resource-policy statement)."""

    principal: str
    action: str
    source_arn: str | None
    source_account: str | None


@dataclass(frozen=True)
class DeclaredStage:
    """A stage of the REST API: its stage-level settings and its method settings by GetStage's method key."""

    name: str
    settings: Mapping[str, Any]  # Pulumi's names: xrayTracingEnabled, cacheClusterEnabled, accessLogSettings, ...
    method_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # "*/*" -> {"loggingLevel": ...}


@dataclass(frozen=True)
class Declared:
    source: str  # where the declared state came from, said in the report
    function: DeclaredFunction | None
    # True for Pulumi's state at the last update; False for the working copy's program, which may hold changes
    # never deployed: its differences are listed as drift, never blamed (collectors/drift.py).
    deployed: bool = True
    role_trust: Any = None  # the function's role's trust policy document, as declared
    parameter: DeclaredParameter | None = None
    bucket_policy: tuple[dict[str, Any], ...] | None = None  # the statements; None: the stack declares no policy
    permissions: tuple[DeclaredPermission, ...] = ()
    stages: Mapping[str, DeclaredStage] = field(default_factory=dict)
    refs: Mapping[str, str] = field(default_factory=dict)  # a declared value -> what it stands for ("bucket", ...)
    placeholders: frozenset[str] = frozenset()  # values invented under mocks: never compared


class DeclaredUnavailable(Exception):
    """The declared state could not be read (no Pulumi CLI, no stack, an unreadable export)."""


def _whole(value: Any) -> Any:
    """A number as Pulumi's engine records it under mocks (30.0) is the integer AWS answers (30)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _values(resource: Mapping[str, Any]) -> dict[str, Any]:
    return {**(resource.get("inputs") or {}), **(resource.get("outputs") or {})}


def _document(value: Any) -> Any:
    """A policy as Pulumi records it: JSON text (or already a dict)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return None
    return value


def _function(resource: Mapping[str, Any]) -> DeclaredFunction:
    values = _values(resource)
    environment = (values.get("environment") or {}).get("variables") or {}
    return DeclaredFunction(
        timeout=_whole(values.get("timeout")),
        memory_size=_whole(values.get("memorySize")),
        handler=values.get("handler"),
        runtime=values.get("runtime"),
        layers=tuple(values.get("layers") or ()),
        environment={str(k): str(v) for k, v in environment.items()},
        role=values.get("role"),
    )


def _of(resources: Iterable[Mapping[str, Any]], types: str | tuple[str, ...]) -> list[Mapping[str, Any]]:
    wanted = (types,) if isinstance(types, str) else types
    return [r for r in resources if r.get("type") in wanted]


def _ids(resource: Mapping[str, Any], *keys: str) -> set[str]:
    """The values another resource may use to refer to this one: its id and the named outputs."""
    values = _values(resource)
    found = {str(resource["id"])} if resource.get("id") else set()
    return found | {str(values[k]) for k in keys if isinstance(values.get(k), str)}


def _parameter(resources: list, function: DeclaredFunction) -> DeclaredParameter | None:
    """The parameter the function's environment names (by its `name`, which the stack's outputs give)."""
    named = set(function.environment.values())
    for resource in _of(resources, PARAMETER_TYPE):
        values = _values(resource)
        if values.get("name") in named:
            value = values.get("insecureValue")
            if value is None and isinstance(values.get("value"), str):
                value = values["value"]  # a plain value; a secret one is an object Pulumi encrypts
            return DeclaredParameter(name=str(values["name"]), type=values.get("type"), value=value)
    return None


def _bucket(resources: list, parameter: DeclaredParameter | None, refs: dict[str, str]) -> set[str]:
    """The bucket the parameter names: its ids (name, id) become refs "bucket", its ARN "bucket_arn"."""
    if parameter is None or parameter.value is None:
        return set()
    for resource in _of(resources, BUCKET_TYPES):
        ids = _ids(resource, "bucket")
        if parameter.value in ids:
            refs.update(dict.fromkeys(ids, "bucket"))
            arn = _values(resource).get("arn")
            if isinstance(arn, str):
                refs[arn] = "bucket_arn"
            return ids
    return set()


def _bucket_policy(resources: list, bucket_ids: set[str]) -> tuple[dict[str, Any], ...] | None:
    statements: list[dict[str, Any]] = []
    found = False
    for resource in _of(resources, BUCKET_POLICY_TYPE):
        values = _values(resource)
        if values.get("bucket") in bucket_ids:
            found = True
            document = _document(values.get("policy")) or {}
            listed = document.get("Statement", [])
            statements += listed if isinstance(listed, list) else [listed]
    return tuple(statements) if found else None


def _permissions(resources: list, function_name: str) -> tuple[DeclaredPermission, ...]:
    found = []
    for resource in _of(resources, PERMISSION_TYPE):
        values = _values(resource)
        if values.get("function") in (function_name,) or str(values.get("function", "")).endswith(
            f":function:{function_name}"
        ):
            found.append(
                DeclaredPermission(
                    principal=str(values.get("principal")),
                    action=str(values.get("action")),
                    source_arn=values.get("sourceArn"),
                    source_account=values.get("sourceAccount"),
                )
            )
    return tuple(found)


def _api(resources: list, permissions: tuple[DeclaredPermission, ...], refs: dict[str, str]) -> set[str]:
    """The REST API whose execution ARN the function's API Gateway permission names."""
    arns = [p.source_arn for p in permissions if p.principal == "apigateway.amazonaws.com" and p.source_arn]
    for resource in _of(resources, REST_API_TYPE):
        execution = _values(resource).get("executionArn")
        if isinstance(execution, str) and any(arn.startswith(f"{execution}/") for arn in arns):
            ids = _ids(resource)
            refs[execution] = "execution_arn"
            refs.update(dict.fromkeys(ids, "api_id"))
            return ids
    return set()


def method_key(method_path: str) -> str:
    """Pulumi's `methodPath` (`*/*`, `random/GET`) as GetStage keys it (`*/*`, `~1random/GET`)."""
    if method_path == "*/*":
        return method_path
    resource, _, method = method_path.rpartition("/")
    return "~1" + resource.strip("/").replace("/", "~1") + "/" + method


STAGE_SETTINGS = ("xrayTracingEnabled", "cacheClusterEnabled", "cacheClusterSize", "accessLogSettings", "variables")


def _stages(resources: list, api_ids: set[str]) -> dict[str, DeclaredStage]:
    stages: dict[str, DeclaredStage] = {}
    for resource in _of(resources, STAGE_TYPE):
        values = _values(resource)
        if values.get("restApi") in api_ids and values.get("stageName"):
            name = str(values["stageName"])
            methods = {
                method_key(str(v.get("methodPath"))): {k: _whole(x) for k, x in (v.get("settings") or {}).items()}
                for r in _of(resources, METHOD_SETTINGS_TYPE)
                if (v := _values(r)).get("restApi") in api_ids and v.get("stageName") == name
            }
            settings = {k: values[k] for k in STAGE_SETTINGS if k in values}
            stages[name] = DeclaredStage(name=name, settings=settings, method_settings=methods)
    return stages


def _role(resources: list, function: DeclaredFunction, refs: dict[str, str]) -> Any:
    for resource in _of(resources, ROLE_TYPE):
        if function.role and function.role in _ids(resource, "arn"):
            refs[function.role] = "role_arn"
            return _document(_values(resource).get("assumeRolePolicy"))
    return None


def from_export(
    exported: Mapping[str, Any],
    function_name: str,
    source: str,
    *,
    deployed: bool = True,
    placeholders: Iterable[str] = (),
) -> Declared:
    """The declared state of the request path in a `pulumi stack export` document."""
    if exported.get("version") != 3:
        raise DeclaredUnavailable(f"unknown deployment format version {exported.get('version')!r} (expected 3)")
    resources = (exported.get("deployment") or {}).get("resources") or []
    functions = [r for r in _of(resources, FUNCTION_TYPE) if (r.get("outputs") or {}).get("name") == function_name]
    if not functions:
        return Declared(source=source, function=None, deployed=deployed)
    function = _function(functions[0])
    refs: dict[str, str] = {}
    arn = (functions[0].get("outputs") or {}).get("arn")
    if isinstance(arn, str):
        refs[arn] = "function_arn"
    parameter = _parameter(resources, function)
    bucket_ids = _bucket(resources, parameter, refs)
    permissions = _permissions(resources, function_name)
    return Declared(
        source=source,
        function=function,
        deployed=deployed,
        role_trust=_role(resources, function, refs),
        parameter=parameter,
        bucket_policy=_bucket_policy(resources, bucket_ids),
        permissions=permissions,
        stages=_stages(resources, _api(resources, permissions, refs)),
        refs=refs,
        placeholders=frozenset(p for p in placeholders if p not in refs),
    )


def from_pulumi(runner: Runner, stack: str | None, function_name: str) -> Declared:
    """Run `pulumi stack export` through the drill's command-runner seam (subprocess.run's signature)."""
    command = ["pulumi", "stack", "export", *(["--stack", stack] if stack else [])]
    try:
        done = runner(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DeclaredUnavailable(f"`{' '.join(command)}` could not run: {err}") from err
    if done.returncode != 0:
        raise DeclaredUnavailable(f"`{' '.join(command)}` failed: {(done.stderr or '').strip()[:200]}")
    try:
        exported = json.loads(done.stdout)
    except json.JSONDecodeError as err:
        raise DeclaredUnavailable(f"`{' '.join(command)}` printed no JSON: {err}") from err
    return from_export(exported, function_name, f"`{' '.join(command)}` (Pulumi's state at the last update)")
