"""The whole program (`__main__.py`) under Pulumi mocks: it runs, and exports the seed's outputs."""

from __future__ import annotations

import runpy

import pytest
from conftest import ACCOUNT, REGION, ROOT, program_run, set_config

from components.config import load_settings


def test_program_exports_the_seed_outputs_with_real_values():
    run = program_run()
    mocks, exported = run.mocks, run.outputs
    assert exported["S3BucketName"] == "images-images-a1b2c3"  # the mocks' auto-name for it
    assert exported["BucketNameParameter"] == "/aiops-demo-dev/bucket-name"
    assert exported["LambdaFunctionName"] == "aiops-demo-dev-image-api"
    assert exported["BedrockLambdaName"] == "aiops-demo-dev-image-seeder"
    assert exported["ApiEndpoint"] == f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/prod/random"
    # For the drill and the investigator: the image function's role as declared, and the API id.
    image_role = mocks.one("aws:iam/role:Role", "images-image-api-role")
    assert exported["ImageFunctionRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{image_role.name}-a1b2c3"
    assert exported["RestApiId"] == "a1b2c3d4e5"
    # Every function the program builds comes with its own log group and role.
    functions = mocks.of_type("aws:lambda/function:Function")
    log_groups = {r.inputs["name"] for r in mocks.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert {f"/aws/lambda/{f.inputs['name']}" for f in functions} <= log_groups


def test_a_program_run_is_its_own_and_leaves_the_callers_mocks_and_config_alone(mocks):
    """program_run (conftest) shares one run between the tests that read it: it must neither see nor change
    the caller's Pulumi state, and what a test changes in its copy must not reach the next test."""
    set_config({"imageCount": 7})
    run = program_run({"faultInjectionEnabled": False})
    assert not run.mocks.of_type("aiops:index:FaultInjection")  # the run's config...
    assert run.mocks.one("aws:lambda/invocation:Invocation").inputs["triggers"]["count"] == "5"  # ...not the caller's
    assert load_settings().image_count == 7  # the caller's config is still its own
    assert mocks.resources == [] and mocks.calls == []  # and its mocks received nothing
    run.mocks.resources.clear()
    run.outputs.clear()
    again = program_run({"faultInjectionEnabled": False})
    assert again.mocks.resources and again.outputs["S3BucketName"] == "images-images-a1b2c3"


def test_program_fails_at_preview_on_bad_config(mocks):
    set_config({"imageCount": 0})
    with pytest.raises(ValueError, match="aiops-demo:imageCount"):
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@pytest.mark.parametrize("armed", [True, False])
def test_fault_armed_config_reaches_the_invocations_alarm(armed):
    run = program_run({"faultArmed": armed})
    alarm = run.mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "fault-alarm").inputs
    assert alarm["actionsEnabled"] is armed
    assert run.outputs["CloudWatchAlarmName"] == alarm["name"]


@pytest.mark.parametrize("enabled", [True, False])
def test_fault_chain_exists_only_when_enabled(enabled):
    run = program_run({"faultInjectionEnabled": enabled})
    mocks, exported = run.mocks, run.outputs
    alarms = {a.inputs["name"] for a in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    functions = {f.inputs["name"] for f in mocks.of_type("aws:lambda/function:Function")}
    assert ("aiops-demo-dev-lambda-trigger-alarm" in alarms) is enabled
    assert ("aiops-demo-dev-fault-injector" in functions) is enabled
    assert len(mocks.of_type("aiops:index:FaultInjection")) == int(enabled)
    if enabled:
        assert exported["BucketPolicyLambdaName"] == "aiops-demo-dev-fault-injector"
        assert exported["CloudWatchAlarmName"] == "aiops-demo-dev-lambda-trigger-alarm"
    else:
        assert "BucketPolicyLambdaName" not in exported and "CloudWatchAlarmName" not in exported
        # Only the API's permission is left: nothing may invoke a function from an alarm.
        principals = [p.inputs["principal"] for p in mocks.of_type("aws:lambda/permission:Permission")]
        assert principals == ["apigateway.amazonaws.com"]
