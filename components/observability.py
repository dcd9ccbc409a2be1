"""Observability: the signals an investigation needs and the alarm that starts one.

Execution logs and per-method metrics on the stage, the API 5XX alarm (whose action starts a CloudWatch
investigation where the region offers them), the image function's Errors alarm, a dashboard, and — when
enabled — Application Signals. Built after ImageService (and FaultInjection, when it exists).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_aws_native as aws_native

from components.alarms import Metric, count_alarm, percentile_alarm
from components.api_logging import ApiLogging
from components.config import Settings
from components.dashboard import dashboard_body, dashboard_url
from components.function import Instrumentation
from components.image_service import STAGE_NAME, ImageService
from components.investigations import (
    AIOPS_ASSISTANT_POLICY,
    INVESTIGATION_REGIONS,
    LOCAL_INVESTIGATOR,
    investigation_group_policy,
    investigation_trust_policy,
)
from components.names import (
    API_5XX_ALARM,
    API_LATENCY_ALARM,
    DASHBOARD_NAME,
    IMAGE_API_ERRORS_ALARM,
    INVESTIGATION_GROUP_NAME,
)
from components.providers import APPLICATION_TAG

APPLICATION_SIGNALS_LAMBDA_POLICY = "arn:aws:iam::aws:policy/CloudWatchLambdaApplicationSignalsExecutionRolePolicy"
OTEL_EXEC_WRAPPER = "/opt/otel-instrument"

LAMBDA_ERRORS_PERIOD_SECONDS = 60
# The latency alarm reads the API's p99: what a caller waits for, including a delay the FIS extension adds
# before the function runs (it counts in Lambda Duration too, but API Latency also sees throttling and cold starts).
LATENCY_PERCENTILE = "p99"

# Application Signals discovery is one per account, kept once on, and creating it where it exists fails
# (a second stack, a redeploy after destroy, an account that has it on). The stack leaves it unmanaged;
# StartDiscovery is the one-time, repeatable step: https://docs.aws.amazon.com/applicationsignals/latest/APIReference/API_StartDiscovery.html
APPLICATION_SIGNALS_DISCOVERY_STEP = "aws application-signals start-discovery --region {region}"


def application_signals_instrumentation(layer_arn: str) -> Instrumentation:
    """What the image function needs for Application Signals: the ADOT layer, its wrapper and the managed policy."""
    return Instrumentation(
        layers=[layer_arn],
        environment={"AWS_LAMBDA_EXEC_WRAPPER": OTEL_EXEC_WRAPPER},
        managed_policy_arns=[APPLICATION_SIGNALS_LAMBDA_POLICY],
    )


@dataclass(frozen=True)
class ObservabilityArgs:
    prefix: str  # "<project>-<stack>"
    region: str
    service: ImageService
    api_logging: ApiLogging
    log_retention_days: int
    invocations_alarm_arn: pulumi.Input[str] | None  # FaultInjection's alarm; None when it is disabled
    api_data_trace: bool  # full request/response bodies in execution logs
    throttling_burst_limit: int
    throttling_rate_limit: int
    api_alarm_period_seconds: int
    investigations_enabled: bool
    investigation_retention_days: int
    # Adopt this existing group instead of creating one ("": create one): config investigationGroupArn, or the
    # shared stack's group (config sharedStack).
    investigation_group_arn: pulumi.Input[str]
    application_signals_enabled: bool
    api_latency_alarm_threshold_ms: int

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        service: ImageService,
        api_logging: ApiLogging,
        invocations_alarm_arn: pulumi.Input[str] | None,
        shared_group_arn: pulumi.Input[str] | None = None,
    ) -> ObservabilityArgs:
        """Every setting from the stack's settings (their defaults are config.DEFAULTS, nowhere else); with
        `shared_group_arn` (the shared stack's group, config sharedStack) in place of investigationGroupArn."""
        return cls(
            prefix=settings.prefix,
            region=settings.region,
            service=service,
            api_logging=api_logging,
            log_retention_days=settings.log_retention_days,
            invocations_alarm_arn=invocations_alarm_arn,
            api_data_trace=settings.api_data_trace,
            throttling_burst_limit=settings.api_throttling_burst_limit,
            throttling_rate_limit=settings.api_throttling_rate_limit,
            api_alarm_period_seconds=settings.api_alarm_period_seconds,
            investigations_enabled=settings.investigations_enabled,
            investigation_retention_days=settings.investigation_retention_days,
            investigation_group_arn=settings.investigation_group_arn if shared_group_arn is None else shared_group_arn,
            application_signals_enabled=settings.application_signals_enabled,
            api_latency_alarm_threshold_ms=settings.api_latency_alarm_threshold_ms,
        )


class Observability(pulumi.ComponentResource):
    """Stage logging and metrics, the 5XX and Errors alarms, the dashboard, investigations, Application Signals."""

    execution_log_group: aws.cloudwatch.LogGroup
    method_settings: aws.apigateway.MethodSettings
    api_5xx_alarm: aws.cloudwatch.MetricAlarm
    lambda_errors_alarm: aws.cloudwatch.MetricAlarm
    api_latency_alarm: aws.cloudwatch.MetricAlarm
    dashboard: aws.cloudwatch.Dashboard
    dashboard_url: pulumi.Output[str]
    investigation_role: aws.iam.Role | None
    investigation_group: aws_native.aiops.InvestigationGroup | None
    investigation_group_arn: pulumi.Output[str] | None  # None when investigations are off or unavailable

    def __init__(self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:Observability", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        service = args.service
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.execution_log_group, self.method_settings = self._stage_logging(name, args)
        self.investigation_role, self.investigation_group, self.investigation_group_arn = self._investigations(
            name, args, account
        )
        self.api_5xx_alarm = count_alarm(
            f"{name}-api-5xx",
            Metric("AWS/ApiGateway", "5XXError", {"ApiName": service.rest_api.name, "Stage": STAGE_NAME}),
            alarm_name=API_5XX_ALARM.of(args.prefix),
            description="The image API answered with a 5XX; starts a CloudWatch investigation where available",
            period_seconds=args.api_alarm_period_seconds,
            actions=[self.investigation_group_arn] if self.investigation_group_arn is not None else [],
            opts=child,
        )
        self.lambda_errors_alarm = count_alarm(
            f"{name}-image-api-errors",
            Metric("AWS/Lambda", "Errors", {"FunctionName": service.api_function.function.name}),
            alarm_name=IMAGE_API_ERRORS_ALARM.of(args.prefix),
            description="The image function failed (exception or timeout)",
            period_seconds=LAMBDA_ERRORS_PERIOD_SECONDS,
            opts=child,
        )
        # Always there, FIS or not: a slow image path (cold starts, a slow bucket, an injected delay) is an
        # incident a user wants investigated like a failing one, and the drill reads this alarm as the symptom.
        self.api_latency_alarm = percentile_alarm(
            f"{name}-api-latency",
            Metric("AWS/ApiGateway", "Latency", {"ApiName": service.rest_api.name, "Stage": STAGE_NAME}),
            alarm_name=API_LATENCY_ALARM.of(args.prefix),
            description=f"The image API's {LATENCY_PERCENTILE} latency exceeded {args.api_latency_alarm_threshold_ms} "
            "ms; starts a CloudWatch investigation where available",
            percentile=LATENCY_PERCENTILE,
            threshold=args.api_latency_alarm_threshold_ms,
            actions=[self.investigation_group_arn] if self.investigation_group_arn is not None else [],
            opts=child,
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=DASHBOARD_NAME.of(args.prefix),
            dashboard_body=pulumi.Output.json_dumps(
                dashboard_body(
                    args.region,
                    api_name=service.rest_api.name,
                    stage=STAGE_NAME,
                    function_name=service.api_function.function.name,
                    function_log_group=service.api_function.log_group.name,
                    latency_alarm_ms=args.api_latency_alarm_threshold_ms,
                    alarm_arns=[
                        self.api_5xx_alarm.arn,
                        self.lambda_errors_alarm.arn,
                        self.api_latency_alarm.arn,
                        *([args.invocations_alarm_arn] if args.invocations_alarm_arn is not None else []),
                    ],
                )
            ),
            opts=child,
        )
        self.dashboard_url = dashboard_url(args.region, self.dashboard.dashboard_name)
        if args.application_signals_enabled:  # discovery is account-wide: a one-time step, not a resource
            pulumi.log.warn(
                "Application Signals: the image function is instrumented. Discovery is account-wide and not "
                "managed by this stack; once per account and region (repeatable, harmless if on): "
                f"`{APPLICATION_SIGNALS_DISCOVERY_STEP.format(region=args.region)}`.",
                resource=self,
            )

        self.register_outputs(
            {
                "apiAlarmName": self.api_5xx_alarm.name,
                "errorsAlarmName": self.lambda_errors_alarm.name,
                "latencyAlarmName": self.api_latency_alarm.name,
                "dashboardUrl": self.dashboard_url,
                "investigationGroupArn": self.investigation_group_arn,
            }
        )

    def _stage_logging(
        self, name: str, args: ObservabilityArgs
    ) -> tuple[aws.cloudwatch.LogGroup, aws.apigateway.MethodSettings]:
        service = args.service
        # API Gateway would create this group itself, without retention, and destroy would leave it behind.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            name=pulumi.Output.concat("API-Gateway-Execution-Logs_", service.rest_api.id, f"/{STAGE_NAME}"),
            retention_in_days=args.log_retention_days,
            opts=pulumi.ResourceOptions(parent=self),
        )
        settings = aws.apigateway.MethodSettings(
            f"{name}-method-settings",
            rest_api=service.rest_api.id,
            stage_name=service.stage.stage_name,  # the output, not the constant: the stage must exist first
            method_path="*/*",
            settings=aws.apigateway.MethodSettingsSettingsArgs(
                metrics_enabled=True,
                logging_level="INFO",
                data_trace_enabled=args.api_data_trace,
                throttling_burst_limit=args.throttling_burst_limit,
                throttling_rate_limit=float(args.throttling_rate_limit),
            ),
            # Logging needs the account's CloudWatch role, and must start only once our log group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group, *args.api_logging.stage_depends_on]),
        )
        return log_group, settings

    def _investigations(
        self, name: str, args: ObservabilityArgs, account: pulumi.Output[str]
    ) -> tuple[aws.iam.Role | None, aws_native.aiops.InvestigationGroup | None, pulumi.Output[str] | None]:
        if not args.investigations_enabled:
            return None, None, None
        if args.region not in INVESTIGATION_REGIONS:
            pulumi.log.warn(
                f"CloudWatch investigations are not available in {args.region}: no investigation group is set up "
                f"and the 5XX alarm starts none. Regions that offer them: {', '.join(INVESTIGATION_REGIONS)}. "
                f"Investigate with the project's own investigator instead: `{LOCAL_INVESTIGATOR}`.",
                resource=self,
            )
            return None, None, None
        if args.investigation_group_arn:  # one group per account and region: use the one that exists
            return None, None, pulumi.Output.from_input(args.investigation_group_arn)

        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-investigation-role",
            assume_role_policy=pulumi.Output.json_dumps(investigation_trust_policy(account, args.region)),
            description=f"CloudWatch investigations of {args.prefix}: read-only access to telemetry",
            opts=child,
        )
        attachment = aws.iam.RolePolicyAttachment(
            f"{name}-investigation-role-policy", role=role.name, policy_arn=AIOPS_ASSISTANT_POLICY, opts=child
        )
        group = aws_native.aiops.InvestigationGroup(
            f"{name}-investigations",
            name=INVESTIGATION_GROUP_NAME.of(args.prefix),
            role_arn=role.arn,
            retention_in_days=args.investigation_retention_days,
            is_cloud_trail_event_history_enabled=True,
            # Where investigations cannot discover how resources relate, they narrow the search by these tag keys.
            tag_key_boundaries=[APPLICATION_TAG],
            investigation_group_policy=pulumi.Output.json_dumps(investigation_group_policy(account, args.region)),
            # The group validates that its role can read telemetry when it is created, and Cloud Control
            # (aws-native) retries only throttling, not a role whose policy is still propagating (handler
            # AccessDenied/InvalidRequest are terminal). So the group also waits for the image function, whose
            # creation itself waits out IAM propagation of a role made at the same moment as this one; that
            # adds no step to the deploy's critical path (the alarm after the group already follows it).
            # One group per account and region, and `name`/`retentionInDays` force replacement: delete first.
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[attachment, args.service.api_function.function],
                delete_before_replace=True,
            ),
        )
        return role, group, group.arn
