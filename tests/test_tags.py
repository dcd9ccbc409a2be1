"""Application tags (issue 14): every taggable resource gets them, through the providers' default tags.

The mocks never merge default tags into a resource's inputs (the real providers do that in their
Check step), so what is asserted is what the program actually sends: explicit providers registered with
`defaultTags`, and every resource of a taggable type registered with one of them — a resource left on
the default provider would get no tags. "Taggable" comes from the SDK: the resource class takes `tags`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import typing
from functools import cache

import pulumi_aws as aws
from conftest import PROJECT, REGION, STACK, Recorded, RecordingMocks, program_run

TAGS = {"Application": PROJECT, "Stack": STACK, "NamePrefix": f"{PROJECT}-{STACK}"}
SDK_ROOTS = {"aws": "pulumi_aws", "aws-native": "pulumi_aws_native"}
# Both features create resources of their own (the Application Signals discovery is aws-native).
ALL_FEATURES = {
    "applicationSignalsEnabled": True,
    "adotLayerArn": f"arn:aws:lambda:{REGION}:615299751070:layer:AWSOpenTelemetryDistroPython:5",
}


@cache
def sdk_class(typ: str) -> type:
    """The SDK resource class registered under a type token, e.g. aws:lambda/function:Function."""
    package, module, name = typ.split(":")
    module = module.split("/")[0]
    for candidate in (module, f"{module}_"):  # Python names dodge keywords: lambda -> lambda_
        try:
            found = getattr(importlib.import_module(f"{SDK_ROOTS[package]}.{candidate}"), name, None)
        except ModuleNotFoundError:
            continue
        if found is not None:
            return found
    raise AssertionError(f"no SDK class for {typ}")


def taggable(typ: str) -> bool:
    """True if the resource class takes `tags` (its keyword-argument overload has the parameter)."""
    overloads = typing.get_overloads(sdk_class(typ).__init__)
    return any("tags" in inspect.signature(overload).parameters for overload in overloads)


def providers(mocks: RecordingMocks) -> dict[str, Recorded]:
    """The explicit provider registrations, by package."""
    prefix = "pulumi:providers:"
    return {r.typ.removeprefix(prefix): r for r in mocks.resources if r.typ.startswith(prefix)}


def uses(resource: Recorded, provider: Recorded) -> bool:
    """True if `resource` was registered with `provider` (a reference is "<provider urn>::<provider id>")."""
    return resource.provider.rsplit("::", 1)[0] == provider.urn


def cloud_resources(mocks: RecordingMocks) -> list[Recorded]:
    return [r for r in mocks.resources if r.custom and r.typ.split(":")[0] in SDK_ROOTS]


def default_tags(provider: Recorded) -> dict[str, str]:
    # Object-typed provider inputs travel as JSON text, as the engine hands stack config to a provider.
    return json.loads(provider.inputs["defaultTags"])["tags"]


def test_every_taggable_resource_is_on_a_provider_that_tags_it():
    mocks = program_run(ALL_FEATURES).mocks
    by_package = providers(mocks)
    assert set(by_package) == {"aws", "aws-native"}
    for package, provider in by_package.items():
        assert default_tags(provider) == TAGS, package
        assert provider.inputs["region"] == REGION, package
    resources = cloud_resources(mocks)
    tagged = [r for r in resources if taggable(r.typ)]
    # Not vacuous: roles, functions, log groups, the bucket, alarms, the API and the group at least.
    assert {
        "aws:iam/role:Role",
        "aws:lambda/function:Function",
        "aws:s3/bucket:Bucket",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:apigateway/restApi:RestApi",
        "aws-native:aiops:InvestigationGroup",
    } <= {r.typ for r in tagged}
    on_default_provider = [f"{r.typ} {r.name}" for r in tagged if not uses(r, by_package[r.typ.split(":")[0]])]
    assert on_default_provider == [], "taggable resources on the default provider get no tags"
    # Untaggable ones too: the stack has one region, whichever way a resource is created.
    assert all(uses(r, by_package[r.typ.split(":")[0]]) for r in resources)


def test_invokes_ask_the_stacks_provider():
    mocks = program_run().mocks
    aws_provider = providers(mocks)["aws"]
    identity = [p for token, p in mocks.call_providers if token == "aws:index/getCallerIdentity:getCallerIdentity"]
    assert identity, "the program looks up its account"
    assert all(p.rsplit("::", 1)[0] == aws_provider.urn for p in identity), identity


def test_investigation_group_bounds_investigations_by_the_application_tag():
    mocks = program_run().mocks
    group = mocks.one("aws-native:aiops:InvestigationGroup")
    assert "Application" in group.inputs["tagKeyBoundaries"]
    assert taggable(group.typ)  # its tags ({key, value} list) come from the aws-native default tags


def test_adopted_investigation_group_is_left_alone():
    adopted = f"arn:aws:aiops:{REGION}:123456789012:investigation-group/abcdefghijklmnop"
    mocks = program_run({"investigationGroupArn": adopted}).mocks
    assert mocks.of_type("aws-native:aiops:InvestigationGroup") == []


def test_explicit_providers_keep_the_stacks_provider_config():
    # An explicit provider reads no stack config: what the default provider would have had is forwarded.
    role = "arn:aws:iam::123456789012:role/deployer"
    config = {
        "aws:profile": "demo",
        "aws:assumeRoles": json.dumps([{"roleArn": role}]),
        "aws:maxRetries": "5",
        "aws:defaultTags": json.dumps({"tags": {"CostCenter": "42", "Application": "overridden"}}),
        "aws-native:profile": "demo",
        "aws-native:defaultTags": json.dumps({"tags": {"CostCenter": "42"}}),
    }
    by_package = providers(program_run(config).mocks)
    classic, native = by_package["aws"], by_package["aws-native"]
    assert classic.inputs["profile"] == "demo" and native.inputs["profile"] == "demo"
    assert json.loads(classic.inputs["assumeRoles"]) == [{"roleArn": role}]
    assert json.loads(classic.inputs["maxRetries"]) == 5
    # The stack's own default tags stay; the application tags are not overridden by them.
    assert default_tags(classic) == {"CostCenter": "42", **TAGS}
    assert default_tags(native) == {"CostCenter": "42", **TAGS}


def test_sdk_class_lookup_follows_python_names():
    assert sdk_class("aws:lambda/function:Function") is aws.lambda_.Function
    assert taggable("aws:lambda/function:Function")
    assert not taggable("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
