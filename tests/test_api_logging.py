"""ApiLogging under Pulumi mocks: access-log group and format, the retained API Gateway account role."""

from __future__ import annotations

import json

import pulumi
from conftest import ACCOUNT, REGION, depends_on, image_service, settled
from settings_helper import default_settings

from components.api_logging import ACCESS_LOG_FORMAT, ApiLogging, ApiLoggingArgs

PREFIX = "aiops-demo-dev"
ACCOUNT_ROLE_TYPES = (
    "aws:iam/role:Role",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:apigateway/account:Account",
)


def build(**overrides) -> ApiLogging:
    """The component from the default settings; keywords override Settings fields."""
    settings = default_settings(**{"log_retention_days": 14} | overrides)
    return ApiLogging("api-logging", ApiLoggingArgs.from_settings(settings))


@pulumi.runtime.test
def test_access_log_group_has_retention_and_the_stage_settings_point_at_it(mocks):
    logging = build()

    def check(values):
        group_arn, destination = values
        group = mocks.one("aws:cloudwatch/logGroup:LogGroup").inputs
        assert group["name"] == f"/aws/apigateway/{PREFIX}-api-access"
        assert group["retentionInDays"] == 14
        assert (
            destination == group_arn == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/{PREFIX}-api-access"
        )

    return settled(logging.access_log_group.arn, logging.stage_access_log.destination_arn).apply(check)


# $context variables API Gateway documents for REST API access logs (the ones a format here may use):
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html
DOCUMENTED_CONTEXT_VARIABLES = frozenset(
    {
        "requestId",
        "extendedRequestId",
        "xrayTraceId",
        "requestTime",
        "requestTimeEpoch",
        "identity.sourceIp",
        "identity.userAgent",
        "httpMethod",
        "resourcePath",
        "path",
        "protocol",
        "stage",
        "status",
        "responseLength",
        "responseLatency",
        "integration.status",
        "integration.error",
        "integration.latency",
        "integrationLatency",
        "error.message",
        "error.responseType",
    }
)


def test_access_log_format_is_one_json_object_of_documented_variables_with_the_fields_investigations_use():
    assert "\n" not in ACCESS_LOG_FORMAT  # one log line per request
    fields = json.loads(ACCESS_LOG_FORMAT)
    # A misspelt variable would log an empty value without any error: every one must be a documented one.
    variables = {value.removeprefix("$context.") for value in fields.values()}
    assert all(value.startswith("$context.") for value in fields.values())
    assert variables <= DOCUMENTED_CONTEXT_VARIABLES, variables - DOCUMENTED_CONTEXT_VARIABLES
    # What an investigation joins and filters on: the request, its trace, its answer and why it failed.
    assert fields["requestId"] == "$context.requestId"
    assert fields["xrayTraceId"] == "$context.xrayTraceId"
    assert fields["status"] == "$context.status"
    assert fields["integrationStatus"] == "$context.integration.status"
    assert fields["integrationError"] == "$context.integration.error"
    assert fields["errorMessage"] == "$context.error.message"
    assert len(fields) == len(variables)  # no variable logged twice under two names


@pulumi.runtime.test
def test_account_role_is_trusted_by_api_gateway_pushes_logs_and_everything_is_kept_on_destroy(mocks):
    logging = build()

    def check(values):
        role_arn, role_name = values
        role = mocks.one("aws:iam/role:Role")
        assert json.loads(role.inputs["assumeRolePolicy"])["Statement"] == [
            {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ]
        attachment = mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        assert attachment.inputs["role"] == role_name
        assert (
            attachment.inputs["policyArn"]
            == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
        )
        account = mocks.one("aws:apigateway/account:Account")
        assert account.inputs["cloudwatchRoleArn"] == role_arn
        assert depends_on(account, attachment)  # API Gateway checks the role's permissions when it is set
        for typ in ACCOUNT_ROLE_TYPES:
            assert mocks.one(typ).retain_on_delete, typ
        assert mocks.one("aws:cloudwatch/logGroup:LogGroup").retain_on_delete is False
        assert logging.stage_depends_on == [logging.account]

    return settled(logging.role.arn, logging.role.name).apply(check)


@pulumi.runtime.test
def test_without_account_role_nothing_account_wide_is_created_and_the_stage_waits_for_nothing(mocks):
    logging = build(api_gateway_account_role=False)

    def check(_):
        for typ in ACCOUNT_ROLE_TYPES:
            assert mocks.of_type(typ) == [], typ
        assert logging.role is None and logging.account is None
        assert logging.stage_depends_on == []
        assert len(mocks.of_type("aws:cloudwatch/logGroup:LogGroup")) == 1

    return settled(logging.access_log_group.arn).apply(check)


@pulumi.runtime.test
def test_the_stage_waits_for_the_account_setting_and_writes_access_logs(mocks):
    logging = build()
    service = image_service(stage_access_log=logging.stage_access_log, stage_depends_on=logging.stage_depends_on)

    def check(values):
        group_arn, _ = values
        stage = mocks.one("aws:apigateway/stage:Stage")
        assert depends_on(stage, mocks.one("aws:apigateway/account:Account"))
        assert stage.inputs["accessLogSettings"]["destinationArn"] == group_arn
        assert json.loads(stage.inputs["accessLogSettings"]["format"])["status"] == "$context.status"

    return settled(logging.access_log_group.arn, service.stage.id).apply(check)
