"""The whole program (`__main__.py`) under Pulumi mocks: it runs, and exports the seed's outputs."""

from __future__ import annotations

import runpy

import pulumi
import pytest
from conftest import ACCOUNT, REGION, ROOT, run_program, set_config, settled


@pulumi.runtime.test
def test_program_exports_the_seed_outputs_with_real_values(mocks):
    outputs = run_program()
    names = sorted(outputs)

    def check(values):
        exported = dict(zip(names, values, strict=True))
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

    return settled(*[outputs[n] for n in names]).apply(check)


def test_program_fails_at_preview_on_bad_config(mocks):
    set_config({"imageCount": 0})
    with pytest.raises(ValueError, match="aiops-demo:imageCount"):
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@pytest.mark.parametrize("armed", [True, False])
@pulumi.runtime.test
def test_fault_armed_config_reaches_the_invocations_alarm(mocks, armed):
    set_config({"faultArmed": armed})
    outputs = run_program()

    def check(_):
        alarm = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "fault-alarm").inputs
        assert alarm["actionsEnabled"] is armed

    return settled(outputs["CloudWatchAlarmName"]).apply(check)


@pytest.mark.parametrize("enabled", [True, False])
@pulumi.runtime.test
def test_fault_chain_exists_only_when_enabled(mocks, enabled):
    set_config({"faultInjectionEnabled": enabled})
    outputs = run_program()
    names = sorted(outputs)

    def check(values):
        exported = dict(zip(names, values, strict=True))
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

    return settled(*[outputs[n] for n in names]).apply(check)
