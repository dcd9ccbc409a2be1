"""FaultInjection under Pulumi mocks: the alarm → function → bucket-policy chain is wired as the drill needs."""

from __future__ import annotations

import json

import pulumi
from conftest import ACCOUNT, REGION, depends_on, image_service, own_logs_and_xray, settled
from settings_helper import default_settings

from components.fault_injection import FaultInjection, FaultInjectionArgs
from components.image_service import ImageService

PREFIX = "aiops-demo-dev"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
FUNCTION = "aws:lambda/function:Function"
PERMISSION = "aws:lambda/permission:Permission"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"


def build(**overrides) -> tuple[ImageService, FaultInjection]:
    """The component from the default settings; keywords override Settings fields."""
    images = image_service()
    settings = default_settings(**{"log_retention_days": 14} | overrides)
    args = FaultInjectionArgs.from_settings(settings, bucket=images.bucket, target_function=images.api_function)
    return images, FaultInjection("fault", args)


@pulumi.runtime.test
def test_alarm_trips_on_image_function_invocations_and_runs_the_fault_function(mocks):
    _, fault = build()

    def check(values):
        fault_arn, alarm_name = values
        alarm = mocks.one(ALARM)
        inputs = alarm.inputs
        assert alarm_name == inputs["name"] == f"{PREFIX}-lambda-trigger-alarm"
        assert (inputs["namespace"], inputs["metricName"], inputs["statistic"]) == ("AWS/Lambda", "Invocations", "Sum")
        assert inputs["dimensions"] == {"FunctionName": f"{PREFIX}-image-api"}
        assert inputs["threshold"] == 3
        assert inputs["period"] == 60
        assert inputs["evaluationPeriods"] == 1
        assert inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert inputs["treatMissingData"] == "notBreaching"
        assert inputs["alarmActions"] == [fault_arn]
        assert fault_arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-fault-injector"
        assert "okActions" not in inputs and "insufficientDataActions" not in inputs
        assert inputs["actionsEnabled"] is True  # armed by default (config faultArmed)
        # An operator reading the alarm learns what it does and how to undo it.
        description = inputs["alarmDescription"]
        assert f"{PREFIX}-image-api" in description and f"{PREFIX}-fault-injector" in description
        assert '{"action": "restore"}' in description
        assert alarm.parent == mocks.one("aiops:index:FaultInjection").urn

    return settled(fault.function.function.arn, fault.alarm.name).apply(check)


@pulumi.runtime.test
def test_custom_threshold_and_period_reach_the_alarm(mocks):
    build(fault_alarm_threshold=7, fault_alarm_period_seconds=300)

    def check(_):
        inputs = mocks.one(ALARM).inputs
        assert (inputs["threshold"], inputs["period"]) == (7, 300)
        assert "7 or more times in 300 s" in inputs["alarmDescription"]

    return settled().apply(check)


@pulumi.runtime.test
def test_only_this_alarm_in_this_account_may_invoke_the_fault_function(mocks):
    _, fault = build()

    def check(values):
        alarm_arn, fault_name = values
        permission = mocks.one(PERMISSION, "fault-alarm-invoke")
        inputs = permission.inputs
        assert inputs["action"] == "lambda:InvokeFunction"
        assert inputs["function"] == fault_name == f"{PREFIX}-fault-injector"
        assert inputs["principal"] == "lambda.alarms.cloudwatch.amazonaws.com"
        assert (
            inputs["sourceArn"]
            == alarm_arn
            == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm"
        )
        assert inputs["sourceAccount"] == ACCOUNT
        assert depends_on(permission, mocks.one(ALARM))
        # The alarm can invoke only once the function's role policy and async settings are in place.
        assert depends_on(permission, mocks.one("aws:iam/rolePolicy:RolePolicy", "fault-injector-policy"))
        assert depends_on(permission, mocks.one(INVOKE_CONFIG))
        assert permission.parent == mocks.one("aiops:index:FaultInjection").urn

    return settled(fault.alarm.arn, fault.function.function.name).apply(check)


@pulumi.runtime.test
def test_fault_function_role_can_only_manage_the_image_bucket_policy(mocks):
    images, fault = build()

    def check(values):
        bucket_arn, log_group_arn = values
        policy = mocks.one("aws:iam/rolePolicy:RolePolicy", "fault-injector-policy")
        assert json.loads(policy.inputs["policy"])["Statement"] == [
            {
                "Sid": "ManageImageBucketPolicy",
                "Effect": "Allow",
                "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
                "Resource": bucket_arn,
            },
            *own_logs_and_xray(log_group_arn),
        ]
        assert bucket_arn.startswith("arn:aws:s3:::") and "*" not in bucket_arn

    return settled(images.bucket.arn, fault.function.log_group.arn).apply(check)


@pulumi.runtime.test
def test_fault_function_is_packaged_alone_and_told_the_bucket_and_the_role_to_deny(mocks):
    images, fault = build()

    def check(values):
        bucket_name, image_role_arn, log_group_name = values
        fn = mocks.one(FUNCTION, "fault-injector-fn")
        assert fn.inputs["name"] == f"{PREFIX}-fault-injector"
        assert fn.inputs["code"].path == "functions/fault_injector"
        assert fn.inputs["environment"]["variables"] == {
            "BUCKET_NAME": bucket_name,
            "TARGET_ROLE_ARN": image_role_arn,
            # From the alarm's deterministic name: the function acts only on its own alarm's events.
            "ALARM_ARN": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm",
            # The age past which it ignores an alarm event: its async config's, from the same one figure.
            "MAX_EVENT_AGE_SECONDS": str(int(mocks.one(INVOKE_CONFIG).inputs["maximumEventAgeInSeconds"])),
        }
        # ...without waiting for the alarm, whose action is this function (that would be a cycle).
        assert not depends_on(fn, mocks.one(ALARM))
        assert image_role_arn.startswith(f"arn:aws:iam::{ACCOUNT}:role/images-image-api-role")  # not its own role
        assert log_group_name == f"/aws/lambda/{PREFIX}-fault-injector"
        assert mocks.one("aws:cloudwatch/logGroup:LogGroup", "fault-injector-logs").inputs["retentionInDays"] == 14
        component = mocks.one("aiops:index:PythonFunction", "fault-injector")
        assert component.parent == mocks.one("aiops:index:FaultInjection").urn

    return settled(images.bucket.bucket, images.api_function.role.arn, fault.function.log_group.name).apply(check)


@pulumi.runtime.test
def test_disarmed_alarm_keeps_its_action_but_may_not_run_it(mocks):
    _, fault = build(fault_armed=False)

    def check(values):
        (fault_arn,) = values
        inputs = mocks.one(ALARM).inputs
        assert inputs["actionsEnabled"] is False
        assert inputs["alarmActions"] == [fault_arn]  # `python -m drill arm` only flips actions_enabled

    return settled(fault.function.function.arn).apply(check)


@pulumi.runtime.test
def test_alarm_invokes_are_never_retried_or_delivered_late_and_nothing_is_reserved(mocks):
    _, fault = build()

    def check(values):
        (fault_name,) = values
        config = mocks.one(INVOKE_CONFIG).inputs
        assert config["functionName"] == fault_name == f"{PREFIX}-fault-injector"
        assert config["maximumRetryAttempts"] == 0
        assert config["maximumEventAgeInSeconds"] == 300
        # Reserved concurrency fails the deploy in accounts whose concurrency quota is 10.
        for fn in mocks.of_type(FUNCTION):
            assert "reservedConcurrentExecutions" not in fn.inputs, fn.name

    return settled(fault.function.function.name).apply(check)


# Absence when faultInjectionEnabled is false: tests/test_program.py runs __main__.py both ways.
