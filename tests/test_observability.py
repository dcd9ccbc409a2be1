"""Observability under Pulumi mocks: stage logging, alarms, dashboard, investigations, Application Signals."""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import ACCOUNT, REGION, depends_on, image_service, set_config, settled
from settings_helper import default_settings

from components.api_logging import ApiLogging, ApiLoggingArgs
from components.config import load_settings
from components.function import Instrumentation
from components.observability import (
    INVESTIGATION_REGIONS,
    Observability,
    ObservabilityArgs,
    application_signals_instrumentation,
)

PREFIX = "aiops-demo-dev"
API_ID = "a1b2c3d4e5"  # the mocks' REST API id
FUNCTION = f"{PREFIX}-image-api"
EXISTING_GROUP = f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/AbCdEfGhIjKlMnOp"
LAYER = f"arn:aws:lambda:{REGION}:615299751070:layer:AWSOpenTelemetryDistroPython:16"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
GROUP = "aws-native:aiops:InvestigationGroup"
DISCOVERY = "aws-native:applicationsignals:Discovery"


def build(
    *,
    instrumentation: Instrumentation | None = None,
    invocations_alarm_arn: str | None = None,
    **overrides,
) -> Observability:
    """ApiLogging -> ImageService -> Observability, wired as __main__.py wires them, from the default settings;
    keywords override Settings fields."""
    settings = default_settings(**{"log_retention_days": 14} | overrides)
    api_logging = ApiLogging("api-logging", ApiLoggingArgs.from_settings(settings))
    service = image_service(
        log_retention_days=14,
        stage_access_log=api_logging.stage_access_log,
        stage_depends_on=api_logging.stage_depends_on,
        api_instrumentation=instrumentation or Instrumentation(),
    )
    args = ObservabilityArgs.from_settings(
        settings, service=service, api_logging=api_logging, invocations_alarm_arn=invocations_alarm_arn
    )
    return Observability("observability", args)


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """Messages passed to pulumi.log.warn."""
    seen: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: seen.append(message))
    return seen


def alarm(mocks, name: str) -> dict:
    return mocks.one(ALARM, name).inputs


# ----------------------------------------------------------------------------------------- stage logging
@pulumi.runtime.test
def test_execution_log_group_is_created_with_retention_before_logging_is_turned_on(mocks):
    obs = build()

    def check(values):
        (group_name,) = values
        assert group_name == f"API-Gateway-Execution-Logs_{API_ID}/prod"
        log_group = mocks.one("aws:cloudwatch/logGroup:LogGroup", "observability-execution-logs")
        assert log_group.inputs["retentionInDays"] == 14
        settings = mocks.one("aws:apigateway/methodSettings:MethodSettings")
        assert depends_on(settings, log_group)
        assert depends_on(settings, mocks.one("aws:apigateway/account:Account"))  # logging needs the account role
        assert depends_on(settings, mocks.one("aws:apigateway/stage:Stage"))
        # The group's name needs only the API id (the stage name is the constant "prod").
        assert not depends_on(log_group, mocks.one("aws:apigateway/stage:Stage"))

    return settled(obs.execution_log_group.name).apply(check)


@pulumi.runtime.test
def test_method_settings_cover_every_method_with_metrics_info_logs_no_bodies_and_throttling(mocks):
    build(api_throttling_burst_limit=20, api_throttling_rate_limit=40)

    def check(_):
        settings = mocks.one("aws:apigateway/methodSettings:MethodSettings").inputs
        assert (settings["restApi"], settings["stageName"], settings["methodPath"]) == (API_ID, "prod", "*/*")
        assert settings["settings"] == {
            "metricsEnabled": True,
            "loggingLevel": "INFO",
            "dataTraceEnabled": False,
            "throttlingBurstLimit": 20,
            "throttlingRateLimit": 40,
        }

    return settled().apply(check)


@pulumi.runtime.test
def test_data_trace_follows_config(mocks):
    build(api_data_trace=True)

    def check(_):
        settings = mocks.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
        assert settings["dataTraceEnabled"] is True

    return settled().apply(check)


@pulumi.runtime.test
def test_without_account_role_method_settings_still_wait_for_their_log_group(mocks):
    build(api_gateway_account_role=False)

    def check(_):
        assert mocks.of_type("aws:apigateway/account:Account") == []
        settings = mocks.one("aws:apigateway/methodSettings:MethodSettings")
        assert depends_on(settings, mocks.one("aws:cloudwatch/logGroup:LogGroup", "observability-execution-logs"))

    return settled().apply(check)


# ----------------------------------------------------------------------------------------------- alarms
@pulumi.runtime.test
def test_5xx_alarm_watches_the_api_stage_and_starts_an_investigation(mocks):
    obs = build(api_alarm_period_seconds=120)

    def check(values):
        name, group_arn = values
        assert name == f"{PREFIX}-api-5xx-alarm"
        five_xx = alarm(mocks, "observability-api-5xx")
        assert (five_xx["namespace"], five_xx["metricName"], five_xx["statistic"]) == (
            "AWS/ApiGateway",
            "5XXError",
            "Sum",
        )
        assert five_xx["dimensions"] == {"ApiName": f"{PREFIX}-api", "Stage": "prod"}
        assert five_xx["period"] == 120
        # The stage name is the constant: the alarm need not wait for the stage.
        assert not depends_on(mocks.one(ALARM, "observability-api-5xx"), mocks.one("aws:apigateway/stage:Stage"))
        assert five_xx["evaluationPeriods"] == 1
        assert five_xx["threshold"] == 1
        assert five_xx["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert five_xx["treatMissingData"] == "notBreaching"
        assert five_xx["alarmActions"] == [group_arn]

    return settled(obs.api_5xx_alarm.name, obs.investigation_group_arn).apply(check)


@pulumi.runtime.test
def test_lambda_errors_alarm_watches_the_image_function_every_minute(mocks):
    obs = build(api_alarm_period_seconds=300)

    def check(values):
        (name,) = values
        assert name == f"{PREFIX}-image-api-errors-alarm"
        errors = alarm(mocks, "observability-image-api-errors")
        assert (errors["namespace"], errors["metricName"], errors["statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        assert errors["dimensions"] == {"FunctionName": FUNCTION}
        assert errors["period"] == 60
        assert errors["threshold"] == 1 and errors["evaluationPeriods"] == 1
        assert errors["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert errors["treatMissingData"] == "notBreaching"

    return settled(obs.lambda_errors_alarm.name).apply(check)


# ---------------------------------------------------------------------------------------- investigations
@pulumi.runtime.test
def test_investigation_group_keeps_investigations_reads_cloudtrail_and_admits_only_this_accounts_alarms(
    mocks, warnings
):
    obs = build(investigation_retention_days=60)

    def check(values):
        group_arn, role_arn = values
        group = mocks.one(GROUP)
        assert group.inputs["name"] == f"{PREFIX}-investigations"
        assert group.inputs["retentionInDays"] == 60
        assert group.inputs["isCloudTrailEventHistoryEnabled"] is True
        assert group.inputs["roleArn"] == role_arn
        # One group per account and region, and name/retentionInDays force replacement: the old group
        # must be deleted before its replacement is created, or `pulumi up` fails.
        assert group.delete_before_replace is True
        assert group_arn.startswith(f"arn:aws:aiops:{REGION}:{ACCOUNT}:")
        assert json.loads(group.inputs["investigationGroupPolicy"])["Statement"] == [
            {
                "Sid": "AlarmsStartInvestigations",
                "Effect": "Allow",
                "Principal": {"Service": "aiops.alarms.cloudwatch.amazonaws.com"},
                "Action": ["aiops:CreateInvestigation", "aiops:CreateInvestigationEvent"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
                },
            }
        ]
        assert warnings == []

    return settled(obs.investigation_group_arn, obs.investigation_role.arn).apply(check)


@pulumi.runtime.test
def test_investigation_role_is_assumable_only_by_investigations_of_this_account_and_region(mocks):
    obs = build()

    def check(values):
        (role_name,) = values
        role = mocks.one("aws:iam/role:Role", "observability-investigation-role")
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"Service": "aiops.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT},
                    # The form AWS documents for the investigation group role (Investigations-GetStarted-Group).
                    "ArnLike": {"aws:SourceArn": f"arn:aws:aiops:{REGION}:{ACCOUNT}:*"},
                },
            }
        ]
        attachment = mocks.one(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "observability-investigation-role-policy"
        )
        assert attachment.inputs == {"role": role_name, "policyArn": "arn:aws:iam::aws:policy/AIOpsAssistantPolicy"}
        assert depends_on(mocks.one(GROUP), attachment)  # the group checks its role when it is created

    return settled(obs.investigation_role.name).apply(check)


@pulumi.runtime.test
def test_existing_group_is_adopted_instead_of_created(mocks, warnings):
    obs = build(investigation_group_arn=EXISTING_GROUP)

    def check(values):
        (arn,) = values
        assert arn == EXISTING_GROUP
        assert mocks.of_type(GROUP) == []
        assert [r.name for r in mocks.of_type("aws:iam/role:Role") if "investigation" in r.name] == []
        assert alarm(mocks, "observability-api-5xx")["alarmActions"] == [EXISTING_GROUP]
        assert warnings == []

    return settled(obs.investigation_group_arn).apply(check)


@pulumi.runtime.test
def test_investigations_disabled_leaves_the_5xx_alarm_without_actions_and_no_output(mocks, warnings):
    obs = build(investigations_enabled=False, investigation_group_arn=EXISTING_GROUP)

    def check(_):
        assert mocks.of_type(GROUP) == []
        assert alarm(mocks, "observability-api-5xx")["alarmActions"] == []
        assert obs.investigation_group_arn is None
        assert warnings == []  # switched off on purpose: nothing to warn about

    return settled().apply(check)


@pulumi.runtime.test
def test_unsupported_region_skips_the_group_with_a_warning_and_deploys_the_rest(mocks, warnings):
    obs = build(region="sa-east-1")

    def check(values):
        (url,) = values
        assert mocks.of_type(GROUP) == []
        assert [r.name for r in mocks.of_type("aws:iam/role:Role") if "investigation" in r.name] == []
        assert alarm(mocks, "observability-api-5xx")["alarmActions"] == []
        assert obs.investigation_group_arn is None
        assert url.startswith("https://sa-east-1.console.aws.amazon.com/")
        assert len(warnings) == 1
        assert "sa-east-1" in warnings[0]
        assert all(region in warnings[0] for region in INVESTIGATION_REGIONS)
        assert "python -m drill investigate" in warnings[0]

    return settled(obs.dashboard_url).apply(check)


@pulumi.runtime.test
def test_unsupported_region_skips_adoption_too(mocks, warnings):
    obs = build(region="cn-north-1", investigation_group_arn=EXISTING_GROUP)

    def check(_):
        assert obs.investigation_group_arn is None
        assert alarm(mocks, "observability-api-5xx")["alarmActions"] == []
        assert len(warnings) == 1

    return settled().apply(check)


def test_supported_regions_are_region_codes_and_china_is_not_among_them():
    assert len(set(INVESTIGATION_REGIONS)) == len(INVESTIGATION_REGIONS)
    assert {"us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"} <= set(INVESTIGATION_REGIONS)
    assert not any(region.startswith(("cn-", "us-gov-")) for region in INVESTIGATION_REGIONS)


def test_invalid_investigation_retention_is_refused_naming_the_key(mocks):
    set_config({"investigationRetentionDays": 5})
    with pytest.raises(ValueError, match="aiops-demo:investigationRetentionDays = 5: allowed values are 7 to 90"):
        load_settings()


# --------------------------------------------------------------------------------------------- dashboard
def widgets_of(mocks) -> list[dict]:
    dashboard = mocks.one("aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == PREFIX
    return json.loads(dashboard["dashboardBody"])["widgets"]


def metric_lines(widgets: list[dict]) -> list[list]:
    return [line for w in widgets if w["type"] == "metric" for line in w["properties"]["metrics"]]


@pulumi.runtime.test
def test_dashboard_shows_api_and_function_metrics_under_their_real_names(mocks):
    obs = build()

    def check(values):
        (url,) = values
        widgets = widgets_of(mocks)
        lines = metric_lines(widgets)
        api_dims = ["ApiName", f"{PREFIX}-api", "Stage", "prod"]
        fn_dims = ["FunctionName", FUNCTION]
        shown = {(line[0], line[1], line[-1]["stat"]) for line in lines}
        assert {
            ("AWS/ApiGateway", "Count", "Sum"),
            ("AWS/ApiGateway", "5XXError", "Sum"),
            ("AWS/ApiGateway", "4XXError", "Sum"),
            ("AWS/ApiGateway", "Latency", "p50"),
            ("AWS/ApiGateway", "Latency", "p99"),
            ("AWS/Lambda", "Invocations", "Sum"),
            ("AWS/Lambda", "Errors", "Sum"),
            ("AWS/Lambda", "Throttles", "Sum"),
            ("AWS/Lambda", "Duration", "p99"),
        } <= shown
        for line in lines:
            assert line[2:-1] == (api_dims if line[0] == "AWS/ApiGateway" else fn_dims), line
        assert all(w["properties"]["region"] == REGION for w in widgets if w["type"] in ("metric", "log"))
        assert url == (
            f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/{PREFIX}"
        )

    return settled(obs.dashboard_url).apply(check)


@pulumi.runtime.test
def test_dashboard_lists_every_alarm_and_the_image_function_error_lines(mocks):
    build(invocations_alarm_arn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm")

    def check(_):
        widgets = widgets_of(mocks)
        (alarms,) = [w for w in widgets if w["type"] == "alarm"]
        assert alarms["properties"]["alarms"] == [
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-api-5xx-alarm",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-image-api-errors-alarm",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-api-latency-alarm",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm",
        ]
        (logs,) = [w for w in widgets if w["type"] == "log"]
        query = logs["properties"]["query"]
        assert query.startswith(f"SOURCE '/aws/lambda/{FUNCTION}' |")
        assert "filter level = 'ERROR'" in query
        assert "error_code" in query and "sort @timestamp desc" in query

    return settled().apply(check)


@pulumi.runtime.test
def test_dashboard_without_fault_injection_lists_only_this_components_alarms(mocks):
    build(invocations_alarm_arn=None)

    def check(_):
        (alarms,) = [w for w in widgets_of(mocks) if w["type"] == "alarm"]
        assert [arn.rsplit(":", 1)[1] for arn in alarms["properties"]["alarms"]] == [
            f"{PREFIX}-api-5xx-alarm",
            f"{PREFIX}-image-api-errors-alarm",
            f"{PREFIX}-api-latency-alarm",
        ]

    return settled().apply(check)


# ---------------------------------------------------------------------------------- Application Signals
def test_application_signals_instrumentation_adds_the_layer_wrapper_and_policy():
    instrumentation = application_signals_instrumentation(LAYER)
    assert list(instrumentation.layers) == [LAYER]
    assert dict(instrumentation.environment) == {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/otel-instrument"}
    assert list(instrumentation.managed_policy_arns) == [
        "arn:aws:iam::aws:policy/CloudWatchLambdaApplicationSignalsExecutionRolePolicy"
    ]


@pulumi.runtime.test
def test_application_signals_on_instruments_the_image_function_and_names_the_discovery_step(mocks, warnings):
    build(application_signals_enabled=True, instrumentation=application_signals_instrumentation(LAYER))

    def check(_):
        # Discovery is an account-wide singleton that fails to create where it exists (second stack,
        # redeploy after destroy, account that has it on): never a stack resource; the step is named instead.
        assert mocks.of_type(DISCOVERY) == []
        assert len(warnings) == 1
        assert f"aws application-signals start-discovery --region {REGION}" in warnings[0]
        fn = mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs
        assert fn["layers"] == [LAYER]
        assert fn["environment"]["variables"]["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/otel-instrument"
        policies = {r.inputs["policyArn"] for r in mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
        assert "arn:aws:iam::aws:policy/CloudWatchLambdaApplicationSignalsExecutionRolePolicy" in policies

    return settled().apply(check)


@pulumi.runtime.test
def test_application_signals_off_creates_no_discovery_and_asks_for_nothing(mocks, warnings):
    build()

    def check(_):
        assert mocks.of_type(DISCOVERY) == []
        assert warnings == []
        assert "layers" not in mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs

    return settled().apply(check)
