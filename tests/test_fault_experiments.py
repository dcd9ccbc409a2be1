"""Partial faults through AWS FIS (issue 20) under Pulumi mocks: the program run as `pulumi up` runs it.

fisEnabled=false creates nothing of this; fisEnabled=true gives the image function the extension (layer,
environment, read statements) and creates two templates with their targets, stop conditions and roles.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ACCOUNT, FIS_LAYER_ARN, REGION, RecordingMocks, program_run, set_config
from settings_helper import default_settings

from components.config import load_settings
from components.fault_experiments import EXTENSION_PARAMETER, ExperimentConfigurationArgs, FaultExperimentsArgs
from drill import outputs as contract

PREFIX = "aiops-demo-dev"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-image-api"
CONFIG_BUCKET = "fis-config-bucket-a1b2c3"  # the mocks' auto-name for the configuration bucket
TEMPLATE = "aws:fis/experimentTemplate:ExperimentTemplate"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FIS_ON = {"fisEnabled": True}
# FIS on with every setting it reads away from its default (one program run serves every test that sets one).
FIS_TUNED = FIS_ON | {
    "fisLatencyDelayMilliseconds": 4500,
    "fisLatencyPercentage": 30,
    "fisLatencyDurationMinutes": 7,
    "fisErrorsPercentage": 15,
    "fisErrorsDurationMinutes": 3,
    "fisGuardErrorRatePercent": 60,
    "logRetentionDays": 14,
    "apiLatencyAlarmThresholdMs": 2500,
}


def alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def image_function(mocks: RecordingMocks) -> dict[str, Any]:
    return mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs


def policy_of(mocks: RecordingMocks, name: str) -> list[dict[str, Any]]:
    return json.loads(mocks.one(ROLE_POLICY, name).inputs["policy"])["Statement"]


# ------------------------------------------------------------------------------------------------ switched off
def test_fis_disabled_creates_nothing_of_it():
    run = program_run()
    mocks, exported = run.mocks, run.outputs
    assert mocks.of_type(TEMPLATE) == []
    assert [r.name for r in mocks.of_type("aws:s3/bucket:Bucket")] == ["images-images"]
    assert not [r for r in mocks.resources if r.name.startswith(("fis-", "fis"))]
    fn = image_function(mocks)
    assert fn.get("layers") is None
    assert not any(k.startswith(("AWS_FIS", "AWS_LAMBDA_EXEC")) for k in fn["environment"]["variables"])
    assert not [c for c in mocks.calls if c[0] == "aws:ssm/getParameter:getParameter"]
    assert not set(contract.FIS) & set(exported)
    # The latency alarm is the stack's, not the experiments': it is there regardless.
    assert exported[contract.LATENCY_ALARM] == f"{PREFIX}-api-latency-alarm"


# ------------------------------------------------------------------------------------------------ the extension
def test_the_image_function_gets_the_regional_arm64_extension_and_its_environment():
    run = program_run(FIS_ON)
    mocks, exported = run.mocks, run.outputs
    (call,) = [args for token, args in mocks.calls if token == "aws:ssm/getParameter:getParameter"]
    assert call["name"] == "/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x"
    assert call["name"] == EXTENSION_PARAMETER and call["region"] == REGION
    fn = image_function(mocks)
    assert fn["architectures"] == ["arm64"]
    assert fn["layers"] == [FIS_LAYER_ARN]
    location = f"arn:aws:s3:::{CONFIG_BUCKET}/FisConfigs/"
    assert fn["environment"]["variables"] == {
        "BUCKET_NAME_PARAMETER": f"/{PREFIX}/bucket-name",
        "IMAGE_CACHE_TTL_SECONDS": "60",
        "AWS_LAMBDA_EXEC_WRAPPER": "/opt/aws-fis/bootstrap",
        "AWS_FIS_CONFIGURATION_LOCATION": location,
        "AWS_FIS_POLL_MAX_WAIT_MILLISECONDS": "2000",
        "AWS_FIS_SLOW_POLL_INTERVAL_SECONDS": "30",
        "AWS_FIS_LOG_LEVEL": "INFO",
        "AWS_FIS_EXTENSION_METRICS": "none",
    }
    assert exported[contract.FIS_CONFIGURATION_LOCATION] == location


def test_the_configuration_bucket_is_its_own_private_encrypted_and_emptied_on_destroy():
    mocks = program_run(FIS_ON).mocks
    bucket = mocks.one("aws:s3/bucket:Bucket", "fis-config-bucket")
    assert bucket.inputs["forceDestroy"] is True
    block = mocks.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "fis-config-bucket-public-access")
    assert block.inputs["bucket"] == CONFIG_BUCKET
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block.inputs[f] is True for f in flags)
    encryption = mocks.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "fis-config-bucket-encryption",
    ).inputs
    assert encryption["bucket"] == CONFIG_BUCKET
    assert encryption["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_the_function_role_may_only_list_and_read_the_configuration_prefix():
    mocks = program_run(FIS_ON).mocks
    statements = {s["Sid"]: s for s in policy_of(mocks, "images-image-api-policy")}
    assert statements["ListFaultConfiguration"] == {
        "Sid": "ListFaultConfiguration",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{CONFIG_BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": ["FisConfigs/*"]}},
    }
    assert statements["ReadFaultConfiguration"] == {
        "Sid": "ReadFaultConfiguration",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{CONFIG_BUCKET}/FisConfigs/*",
    }
    on_config = [s for s in statements.values() if CONFIG_BUCKET in json.dumps(s.get("Resource"))]
    assert sorted(s["Sid"] for s in on_config) == ["ListFaultConfiguration", "ReadFaultConfiguration"]


def test_the_fis_resources_and_the_layer_lookup_use_the_stacks_provider():
    """One region and the application tags: the layer is read in the stack's region, the templates are tagged."""
    mocks = program_run(FIS_ON).mocks
    (aws_provider,) = [r for r in mocks.resources if r.typ == "pulumi:providers:aws"]
    fis = [r for r in mocks.resources if r.custom and r.name.startswith(("fis-", "fis"))]
    assert {"aws:fis/experimentTemplate:ExperimentTemplate", "aws:s3/bucket:Bucket", ROLE} <= {r.typ for r in fis}
    assert [r.name for r in fis if r.provider.rsplit("::", 1)[0] != aws_provider.urn] == []
    lookups = [p for token, p in mocks.call_providers if token == "aws:ssm/getParameter:getParameter"]
    assert lookups and all(p.rsplit("::", 1)[0] == aws_provider.urn for p in lookups)


# ------------------------------------------------------------------------------------------------ templates
def templates(mocks) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in mocks.of_type(TEMPLATE)}


def test_two_templates_target_the_image_function_by_arn_with_the_configured_shares():
    run = program_run(FIS_TUNED)
    mocks, exported = run.mocks, run.outputs
    found = templates(mocks)
    assert sorted(found) == ["fis-errors", "fis-latency"]
    for template in found.values():
        assert template["targets"] == [
            {
                "name": "ImageFunction",
                "resourceType": "aws:lambda:function",
                "resourceArns": [FUNCTION_ARN],
                "selectionMode": "ALL",
            }
        ]
        (action,) = template["actions"]
        assert action["target"] == {"key": "Functions", "value": "ImageFunction"}
        assert template["experimentOptions"] == {
            "accountTargeting": "single-account",
            "emptyTargetResolutionMode": "fail",
        }

    def action(name: str) -> tuple[str, dict[str, str]]:
        (a,) = found[name]["actions"]
        return a["actionId"], {p["key"]: p["value"] for p in a["parameters"]}

    assert action("fis-latency") == (
        "aws:lambda:invocation-add-delay",
        {"duration": "PT7M", "invocationPercentage": "30", "startupDelayMilliseconds": "4500"},
    )
    assert action("fis-errors") == (
        "aws:lambda:invocation-error",
        {"duration": "PT3M", "invocationPercentage": "15", "preventExecution": "true"},
    )
    assert exported[contract.FIS_LATENCY_TEMPLATE] == "fis-latency-id"
    assert exported[contract.FIS_ERRORS_TEMPLATE] == "fis-errors-id"


def test_each_template_stops_on_the_rate_guards_set_above_the_planned_share():
    mocks = program_run(FIS_TUNED).mocks
    guards = [f"{PREFIX}-fis-api-5xx-rate-guard", f"{PREFIX}-fis-image-api-error-rate-guard"]
    for template in templates(mocks).values():
        assert template["stopConditions"] == [
            {"source": "aws:cloudwatch:alarm", "value": alarm_arn(name)} for name in guards
        ]
    api = mocks.one(ALARM, "fis-api-error-rate-guard").inputs
    fn = mocks.one(ALARM, "fis-function-error-rate-guard").inputs
    for guard, (namespace, failures, requests) in (
        (api, ("AWS/ApiGateway", "5XXError", "Count")),
        (fn, ("AWS/Lambda", "Errors", "Invocations")),
    ):
        assert guard["threshold"] == 60 and guard["comparisonOperator"] == "GreaterThanThreshold"
        assert (guard["evaluationPeriods"], guard["datapointsToAlarm"]) == (2, 2)
        assert guard.get("alarmActions") in (None, [])  # a stop condition only
        queries = {q["id"]: q for q in guard["metricQueries"]}
        assert queries["failures"]["metric"]["metricName"] == failures
        assert queries["requests"]["metric"]["metricName"] == requests
        assert {q["metric"]["namespace"] for q in (queries["failures"], queries["requests"])} == {namespace}
        assert {q["metric"]["period"] for q in (queries["failures"], queries["requests"])} == {60}
        assert queries["rate"]["expression"] == "IF(requests >= 10, 100 * FILL(failures, 0) / requests, 0)"
        assert [q["id"] for q in guard["metricQueries"] if q["returnData"]] == ["rate"]
    assert api["metricQueries"][0]["metric"]["dimensions"] == {"ApiName": f"{PREFIX}-api", "Stage": "prod"}
    assert fn["metricQueries"][0]["metric"]["dimensions"] == {"FunctionName": f"{PREFIX}-image-api"}


def test_experiment_logs_go_to_a_log_group_of_the_stack_with_retention():
    mocks = program_run(FIS_TUNED).mocks
    group = mocks.one("aws:cloudwatch/logGroup:LogGroup", "fis-logs").inputs
    assert group["name"] == f"/aws/fis/{PREFIX}"
    assert group["retentionInDays"] == 14
    for template in templates(mocks).values():
        assert template["logConfiguration"] == {
            "logSchemaVersion": 2,
            "cloudwatchLogsConfiguration": {
                "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/fis/{PREFIX}:*"
            },
        }


# ------------------------------------------------------------------------------------------------ roles
def test_each_template_has_its_own_role_trusted_by_fis_of_this_account_only():
    mocks = program_run(FIS_ON).mocks
    found = templates(mocks)
    roles = {name: mocks.one(ROLE, f"{name}-role") for name in found}
    for name, template in found.items():
        assert template["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{name}-role-a1b2c3"
        trust = json.loads(roles[name].inputs["assumeRolePolicy"])
        assert trust == {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "fis.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT},
                        "ArnLike": {"aws:SourceArn": f"arn:aws:fis:{REGION}:{ACCOUNT}:experiment/*"},
                    },
                }
            ],
        }
        policy = mocks.one(ROLE_POLICY, f"{name}-policy")
        assert policy.inputs["role"] == f"{name}-role-a1b2c3"
        template_record = mocks.one(TEMPLATE, name)
        assert policy.urn in template_record.dependencies  # the policy is in place before FIS checks the role
    assert len({t["roleArn"] for t in found.values()}) == 2


def test_the_fis_roles_may_write_and_delete_the_prefix_plus_what_the_lambda_actions_need():
    mocks = program_run(FIS_ON).mocks
    for name in ("fis-latency", "fis-errors"):
        assert policy_of(mocks, f"{name}-policy") == [
            {
                "Sid": "WriteFaultConfiguration",
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{CONFIG_BUCKET}/FisConfigs/*",
            },
            {
                "Sid": "InspectTargetFunction",
                "Effect": "Allow",
                "Action": "lambda:GetFunction",
                "Resource": FUNCTION_ARN,
            },
            {"Sid": "ResolveTargets", "Effect": "Allow", "Action": "tag:GetResources", "Resource": "*"},
            {
                "Sid": "DeliverExperimentLogs",
                "Effect": "Allow",
                "Action": "logs:CreateLogDelivery",
                "Resource": "*",
            },
            {
                "Sid": "LetLogDeliveryWrite",
                "Effect": "Allow",
                "Action": ["logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
                "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*",
            },
        ]


def s3_actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [a for a in ([actions] if isinstance(actions, str) else actions) if a.lower().startswith("s3:")]


def test_no_role_in_the_stack_has_an_s3_statement_on_every_resource():
    mocks = program_run(FIS_ON).mocks
    policies = mocks.of_type(ROLE_POLICY)
    assert {"fis-latency-policy", "fis-errors-policy", "images-image-api-policy"} <= {p.name for p in policies}
    offenders = []
    for record in policies:
        for statement in json.loads(record.inputs["policy"])["Statement"]:
            resources = statement["Resource"]
            resources = [resources] if isinstance(resources, str) else resources
            if s3_actions(statement) and any(r in ("*", "arn:aws:s3:::*") for r in resources):
                offenders.append(f"{record.name}: {statement.get('Sid')}")
    assert offenders == []


# ------------------------------------------------------------------------------------------------ config
def test_fis_with_application_signals_fails_naming_both_keys(mocks):
    set_config(FIS_ON | {"applicationSignalsEnabled": True, "adotLayerArn": f"arn:aws:lambda:{REGION}:1:layer:x:1"})
    with pytest.raises(ValueError, match=r"aiops-demo:fisEnabled and aiops-demo:applicationSignalsEnabled") as err:
        load_settings()
    assert "AWS_LAMBDA_EXEC_WRAPPER" in str(err.value)


def test_either_wrapper_alone_is_accepted(mocks):
    set_config({"applicationSignalsEnabled": True, "adotLayerArn": f"arn:aws:lambda:{REGION}:1:layer:x:1"})
    assert load_settings().application_signals_enabled
    set_config(FIS_ON)
    assert load_settings().fis_enabled


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"fisLatencyPercentage": 0}, "fisLatencyPercentage = 0: allowed values are 1 to 100"),
        ({"fisLatencyPercentage": 101}, "fisLatencyPercentage = 101: allowed values are 1 to 100"),
        ({"fisErrorsPercentage": 99}, "fisErrorsPercentage = 99: allowed values are 1 to 98"),
        ({"fisLatencyDurationMinutes": 0}, "fisLatencyDurationMinutes = 0: allowed values are 1 to 720"),
        ({"fisErrorsDurationMinutes": 721}, "fisErrorsDurationMinutes = 721: allowed values are 1 to 720"),
        ({"fisLatencyDelayMilliseconds": 20001}, "fisLatencyDelayMilliseconds = 20001: allowed values are 100 to"),
        ({"fisGuardErrorRatePercent": 100}, "fisGuardErrorRatePercent = 100: allowed values are 2 to 99"),
        ({"apiLatencyAlarmThresholdMs": 30000}, "apiLatencyAlarmThresholdMs = 30000: allowed values are 100 to 29000"),
        # Between settings, once FIS is on:
        (FIS_ON | {"fisErrorsPercentage": 50}, "fisGuardErrorRatePercent = 50: allowed values are above .*fisErrors"),
        (
            FIS_ON | {"fisLatencyDelayMilliseconds": 1999},
            "fisLatencyDelayMilliseconds = 1999: allowed values are .*api",
        ),
    ],
)
def test_bad_fis_settings_fail_naming_the_key_and_the_allowed_values(mocks, config, message):
    set_config(config)
    with pytest.raises(ValueError, match=f"aiops-demo:{message}"):
        load_settings()


def test_the_settings_between_keys_hold_only_when_fis_is_on(mocks):
    # With FIS off nothing uses the guard or the delay: a guard below the share is no error.
    set_config({"fisErrorsPercentage": 50, "fisLatencyDelayMilliseconds": 100})
    settings = load_settings()
    assert (settings.fis_guard_error_rate_percent, settings.fis_errors_percentage) == (50, 50)
    set_config(FIS_ON | {"fisErrorsPercentage": 49, "fisLatencyDelayMilliseconds": 2000})
    assert load_settings().fis_errors_percentage == 49


# ------------------------------------------------------------------------------------------------ latency alarm
@pytest.mark.parametrize("fis", [False, True])
def test_the_latency_alarm_is_a_one_minute_p99_that_starts_an_investigation_and_is_on_the_dashboard(fis):
    run = program_run(FIS_TUNED if fis else {"apiLatencyAlarmThresholdMs": 2500})
    mocks, exported = run.mocks, run.outputs
    alarm = mocks.one(ALARM, "observability-api-latency").inputs
    assert alarm["name"] == exported[contract.LATENCY_ALARM] == f"{PREFIX}-api-latency-alarm"
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/ApiGateway", "Latency")
    assert alarm["dimensions"] == {"ApiName": f"{PREFIX}-api", "Stage": "prod"}
    assert alarm["extendedStatistic"] == "p99" and "statistic" not in alarm
    assert (alarm["period"], alarm["evaluationPeriods"], alarm["datapointsToAlarm"]) == (60, 3, 2)
    assert (alarm["threshold"], alarm["comparisonOperator"]) == (2500, "GreaterThanThreshold")
    assert alarm["alarmActions"] == [exported[contract.INVESTIGATION_GROUP]]
    assert alarm["alarmActions"] == mocks.one(ALARM, "observability-api-5xx").inputs["alarmActions"]
    body = json.loads(mocks.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    (alarms,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert alarm_arn(f"{PREFIX}-api-latency-alarm") in alarms["properties"]["alarms"]
    (latency,) = [w for w in body["widgets"] if w["properties"].get("title") == "API latency (ms)"]
    assert latency["properties"]["annotations"] == {"horizontal": [{"label": "latency alarm", "value": 2500}]}


def test_the_experiment_settings_reach_the_component_unchanged():
    s = default_settings(
        fis_latency_delay_milliseconds=4321,
        fis_latency_percentage=31,
        fis_latency_duration_minutes=7,
        fis_errors_percentage=13,
        fis_errors_duration_minutes=11,
        fis_guard_error_rate_percent=57,
        log_retention_days=90,
    )
    args = FaultExperimentsArgs.from_settings(s, configuration=None, service=None)
    assert (args.prefix, args.region, args.log_retention_days) == (PREFIX, REGION, 90)
    assert (args.latency_delay_milliseconds, args.latency_percentage, args.latency_duration_minutes) == (4321, 31, 7)
    assert (args.errors_percentage, args.errors_duration_minutes, args.guard_error_rate_percent) == (13, 11, 57)
    assert ExperimentConfigurationArgs.from_settings(default_settings(region="eu-west-1")).region == "eu-west-1"
