"""PythonFunction: role, log group before function, packaging from its own folder, least privilege."""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import depends_on, own_logs_and_xray, settled

from components.function import Instrumentation, PythonFunction, PythonFunctionArgs

STATEMENT = {"Sid": "ReadThing", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def build(**overrides) -> PythonFunction:
    args = {
        "code_dir": "image_api",
        "function_name": "aiops-demo-dev-image-api",
        "statements": [STATEMENT],
        "log_retention_days": 14,
        "memory_size": 256,
        "timeout": 20,
        "environment": {"A": "1"},
    } | overrides
    return PythonFunction("fn", PythonFunctionArgs(**args))


@pulumi.runtime.test
def test_function_runtime_logging_tracing_and_code(mocks):
    fn = build()

    def check(values):
        name, log_group_name, role_arn = values
        assert name == "aiops-demo-dev-image-api"
        assert log_group_name == "/aws/lambda/aiops-demo-dev-image-api"
        lam = mocks.one("aws:lambda/function:Function")
        inputs = lam.inputs
        assert inputs["runtime"] == "python3.13"
        assert inputs["architectures"] == ["arm64"]
        assert inputs["handler"] == "handler.handler"
        assert inputs["memorySize"] == 256 and inputs["timeout"] == 20
        assert inputs["environment"] == {"variables": {"A": "1"}}
        assert inputs["tracingConfig"] == {"mode": "Active"}
        assert inputs["loggingConfig"]["logFormat"] == "JSON"
        assert inputs["loggingConfig"]["logGroup"] == log_group_name
        assert inputs["role"] == role_arn
        # Packaged from its own folder only.
        assert isinstance(inputs["code"], pulumi.FileArchive)
        assert inputs["code"].path == "functions/image_api"
        assert lam.parent == mocks.one("aiops:index:PythonFunction").urn

    return settled(fn.function.name, fn.log_group.name, fn.role.arn).apply(check)


@pulumi.runtime.test
def test_log_group_has_retention_and_is_created_before_the_function(mocks):
    fn = build()

    def check(_):
        log_group = mocks.one("aws:cloudwatch/logGroup:LogGroup")
        assert log_group.inputs["retentionInDays"] == 14
        lam = mocks.one("aws:lambda/function:Function")
        assert depends_on(lam, log_group)
        # Creating the function needs the role only; its policy gates the invokers instead (invoke_ready),
        # which keeps the function off the bucket -> policy chain of the deploy.
        policy = mocks.one("aws:iam/rolePolicy:RolePolicy")
        assert not depends_on(lam, policy)
        assert fn.invoke_ready == [fn.function, fn.policy]

    return settled(fn.function.arn).apply(lambda values: check(*values))


@pulumi.runtime.test
def test_role_trusts_lambda_only_and_policy_is_caller_statements_plus_logs_and_xray(mocks):
    fn = build()

    def check(log_group_arn):
        role = mocks.one("aws:iam/role:Role")
        trust = json.loads(role.inputs["assumeRolePolicy"])
        assert trust["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
        policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
        assert policy["Statement"] == [
            STATEMENT,
            *own_logs_and_xray(log_group_arn),
        ]
        # No managed policy (AWSLambdaBasicExecutionRole would grant logs on "*").
        assert mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []

    return settled(fn.log_group.arn).apply(lambda values: check(*values))


@pulumi.runtime.test
def test_instrumentation_adds_layers_and_managed_policies(mocks):
    instrumentation = Instrumentation(
        layers=["arn:aws:lambda:us-west-2:615299751070:layer:AWSOpenTelemetryDistroPython:5"],
        managed_policy_arns=["arn:aws:iam::aws:policy/CloudWatchLambdaApplicationSignalsExecutionRolePolicy"],
    )
    fn = build(layers=instrumentation.layers, managed_policy_arns=instrumentation.managed_policy_arns)

    def check(_):
        lam = mocks.one("aws:lambda/function:Function")
        assert lam.inputs["layers"] == list(instrumentation.layers)
        attachment = mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment.inputs["policyArn"] == instrumentation.managed_policy_arns[0]
        # Invokers wait for the managed policy too.
        assert len(fn.invoke_ready) == 3 and fn.invoke_ready[:2] == [fn.function, fn.policy]

    return settled(fn.function.arn).apply(lambda values: check(*values))


def test_missing_code_folder_fails_with_a_clear_message(mocks):
    with pytest.raises(ValueError, match=r"functions/no_such_fn/handler.py not found"):
        build(code_dir="no_such_fn")


def test_no_function_folder_holds_bytecode():
    """`pulumi.FileArchive` packages functions/<name>/ as it is: bytecode there (from a test that imported a handler
    and wrote it, or a local run) would be deployed with the code. conftest writes bytecode only while collecting."""
    from conftest import ROOT

    assert sorted(str(p.relative_to(ROOT)) for p in (ROOT / "functions").rglob("*.pyc")) == []
