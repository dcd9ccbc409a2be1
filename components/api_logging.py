"""ApiLogging: what the REST API stage needs before it exists — access logs and the account's CloudWatch role.

Built before ImageService: the stage carries `stage_access_log` and waits for `stage_depends_on`, because
API Gateway refuses to turn logging on until the account-wide CloudWatch role is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import Settings
from components.iam import service_trust_policy
from components.names import API_ACCESS_LOG_GROUP

PUSH_TO_CLOUDWATCH_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"

APIGATEWAY_TRUST = service_trust_policy("apigateway.amazonaws.com")

# One JSON object per request, so Logs Insights (and an investigation) can filter on fields directly.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "xrayTraceId": "$context.xrayTraceId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLatency": "$context.responseLatency",
    "integrationStatus": "$context.integration.status",
    "integrationError": "$context.integration.error",
    "integrationLatency": "$context.integration.latency",
    "errorMessage": "$context.error.message",
}
ACCESS_LOG_FORMAT = json.dumps(ACCESS_LOG_FIELDS, separators=(",", ":"))


@dataclass(frozen=True)
class ApiLoggingArgs:
    prefix: str  # "<project>-<stack>"
    log_retention_days: int
    # Set the account-and-region-wide API Gateway CloudWatch role. False when the account already has one.
    account_role: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiLoggingArgs:
        """Every field from the stack's settings (their defaults are config.DEFAULTS, nowhere else)."""
        return cls(
            prefix=settings.prefix,
            log_retention_days=settings.log_retention_days,
            account_role=settings.api_gateway_account_role,
        )


class ApiLogging(pulumi.ComponentResource):
    """Access-log group and format for the stage, and (optionally) the API Gateway account's CloudWatch role."""

    access_log_group: aws.cloudwatch.LogGroup
    role: aws.iam.Role | None
    account: aws.apigateway.Account | None
    stage_access_log: aws.apigateway.StageAccessLogSettingsArgs  # for ImageServiceArgs.stage_access_log
    stage_depends_on: list[pulumi.Resource]  # for ImageServiceArgs.stage_depends_on

    def __init__(self, name: str, args: ApiLoggingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:ApiLogging", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        self.access_log_group = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=API_ACCESS_LOG_GROUP.of(args.prefix),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.stage_access_log = aws.apigateway.StageAccessLogSettingsArgs(
            destination_arn=self.access_log_group.arn, format=ACCESS_LOG_FORMAT
        )
        self.role, self.account = self._account_role(name) if args.account_role else (None, None)
        self.stage_depends_on = [self.account] if self.account else []

        self.register_outputs(
            {
                "accessLogGroupName": self.access_log_group.name,
                "cloudwatchRoleArn": self.role.arn if self.role else None,
            }
        )

    def _account_role(self, name: str) -> tuple[aws.iam.Role, aws.apigateway.Account]:
        # The account setting outlives this stack (other APIs in the account log through it), so it is
        # retained on destroy — and so are the role and its policy, or the retained setting would point at
        # a deleted role and every API in the account/region would silently stop logging. The role keeps
        # an auto-generated name, so a later stack creates a fresh one instead of colliding with it.
        retained = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        role = aws.iam.Role(
            f"{name}-cloudwatch-role",
            assume_role_policy=pulumi.Output.json_dumps(APIGATEWAY_TRUST),
            description="API Gateway account role for CloudWatch Logs (kept on stack destroy; account-wide)",
            opts=retained,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-cloudwatch-role-policy",
            role=role.name,
            policy_arn=PUSH_TO_CLOUDWATCH_POLICY,
            opts=retained,
        )
        account = aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=role.arn,
            # API Gateway checks the role can write logs when the setting is made.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, depends_on=[attachment]),
        )
        return role, account
