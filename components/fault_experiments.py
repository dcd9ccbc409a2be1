"""Partial faults through AWS FIS: the Lambda extension on the image function, and the experiment templates.

Two components, because the extension's configuration must exist before the image function (its environment
names the configuration location) and the templates after it (they target its ARN):

- `ExperimentConfiguration`, built before ImageService: a private bucket of its own for the fault
  configuration FIS writes and the extension reads, and the `Instrumentation` (layer, environment, read
  statements) the image function gets. Not the image bucket: the seed's fault denies the image function's
  role on that bucket, and the extension reads with that role, so a Deny would hide the configuration.
- `FaultExperiments`, built after it: two guard alarms, the experiments' log group, and per experiment a
  least-privilege role and an `aws.fis.ExperimentTemplate` (added latency, errors) on a share of invocations.

How FIS and the extension talk, what each setting does and the permissions: "Use the AWS FIS aws:lambda:function
actions", https://docs.aws.amazon.com/fis/latest/userguide/use-lambda-actions.html. The extension cannot be used
with response streaming (same page, "Limitations"): the image function answers buffered proxy responses.
Quotas (https://docs.aws.amazon.com/fis/latest/userguide/fis-quotas.html): 5 active experiments per account and
region, 20 actions and 5 stop conditions per template, 12 hours per action; each template here has one action
and two stop conditions, and the drill runs one experiment at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from components.config import Settings
from components.function import ARCHITECTURE, Instrumentation, PythonFunction, Statement
from components.iam import service_trust_policy
from components.image_service import STAGE_NAME, ImageService
from components.names import FIS_API_5XX_RATE_GUARD, FIS_ERROR_RATE_GUARD, FIS_LOG_GROUP

# AWS publishes the extension's layer ARN per region and architecture as a public SSM parameter; "1.x.x" is the
# newest 1.x ("Available versions of the AWS FIS extension for Lambda",
# https://docs.aws.amazon.com/fis/latest/userguide/actions-lambda-extension-arns.html).
EXTENSION_PARAMETER = f"/aws/service/fis/lambda-extension/AWS-FIS-extension-{ARCHITECTURE}/1.x.x"
EXEC_WRAPPER = "/opt/aws-fis/bootstrap"  # the wrapper script the layer ships (use-lambda-actions.html)
CONFIGURATION_PREFIX = "FisConfigs"  # the folder FIS writes to and the extension reads (the docs' own name)

# The extension's environment, each value chosen from "AWS FIS Lambda environment variables" and "Understanding
# polling" (use-lambda-actions.html#fis-extension-environment-variables):
# - AWS_FIS_POLL_MAX_WAIT_MILLISECONDS (default 0): how long an invocation waits for an in-flight poll before the
#   extension decides whether to inject. The image function is short (tens of ms, under the 70 ms an average poll
#   takes) and the docs recommend a non-zero value such as 2000 for preventExecution=true, which the errors
#   experiment uses; it delays only invocations that meet a poll in flight, and by that poll's length at most.
# - AWS_FIS_SLOW_POLL_INTERVAL_SECONDS (default 60): the poll interval while no fault is configured, i.e. the
#   ramp-up of up to that long before a started experiment affects invocations. 30 halves the wait a drill sees,
#   for one S3 read per execution environment every 30 s while idle. (While injecting, the extension polls
#   faster on its own: up to 20 s of ramp-down after an experiment ends.)
# - AWS_FIS_LOG_LEVEL=INFO (the default, set so it is visible): the extension logs each injected fault ("adding
#   N milliseconds of latency") into the function's log group — evidence an investigation can read.
# - AWS_FIS_EXTENSION_METRICS=none (the default, set likewise): EMF metrics would be custom metrics billed per
#   month; the API and Lambda metrics and the log lines already show the fault.
POLL_MAX_WAIT_MILLISECONDS = 2000
SLOW_POLL_INTERVAL_SECONDS = 30
EXTENSION_LOG_LEVEL = "INFO"
EXTENSION_METRICS = "none"

LAMBDA_TARGET_TYPE = "aws:lambda:function"
LAMBDA_TARGET_KEY = "Functions"  # the target key the aws:lambda:invocation-* actions take
TARGET_NAME = "ImageFunction"
LOG_SCHEMA_VERSION = (
    2  # the current experiment log schema (https://docs.aws.amazon.com/fis/latest/userguide/monitoring-logging.html)
)

# A rate over a handful of requests is noise (1 failure in 2 requests is 50 %): the guards judge only minutes
# with at least this many requests, which the drill's steady traffic provides.
GUARD_MIN_REQUESTS = 10
GUARD_PERIOD_SECONDS = 60  # Lambda Errors/Invocations and API Gateway 5XXError/Count are one-minute metrics
GUARD_MINUTES = 2  # two minutes in a row above the guard: one unlucky minute does not end an experiment


def configuration_location(bucket_name: pulumi.Input[str]) -> pulumi.Output[str]:
    """AWS_FIS_CONFIGURATION_LOCATION: the S3 ARN of the configuration folder, with its trailing "/", the form
    the docs require ("arn:aws:s3:::my-config-distribution-bucket/FisConfigs/")."""
    return pulumi.Output.concat("arn:aws:s3:::", bucket_name, f"/{CONFIGURATION_PREFIX}/")


def configuration_objects_arn(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(bucket_arn, f"/{CONFIGURATION_PREFIX}/*")


def extension_read_statements(bucket_arn: pulumi.Input[str]) -> list[Statement]:
    """The function role's access, as the docs' read policy: list the prefix, read the objects under it."""
    return [
        {
            "Sid": "ListFaultConfiguration",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket_arn,
            "Condition": {"StringLike": {"s3:prefix": [f"{CONFIGURATION_PREFIX}/*"]}},
        },
        {
            "Sid": "ReadFaultConfiguration",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": configuration_objects_arn(bucket_arn),
        },
    ]


@dataclass(frozen=True)
class ExperimentConfigurationArgs:
    region: str  # the extension's layer is regional: its parameter is read in the stack's region

    @classmethod
    def from_settings(cls, settings: Settings) -> ExperimentConfigurationArgs:
        return cls(region=settings.region)


class ExperimentConfiguration(pulumi.ComponentResource):
    """The bucket FIS and the extension share, and what the image function needs to run the extension."""

    bucket: aws.s3.Bucket
    layer_arn: pulumi.Output[str]
    location: pulumi.Output[str]  # AWS_FIS_CONFIGURATION_LOCATION
    instrumentation: Instrumentation  # for ImageServiceArgs.api_instrumentation

    def __init__(self, name: str, args: ExperimentConfigurationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:ExperimentConfiguration", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = aws.s3.Bucket(f"{name}-bucket", force_destroy=True, opts=child)  # emptied on destroy
        aws.s3.BucketPublicAccessBlock(
            f"{name}-bucket-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-bucket-ownership",
            bucket=self.bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-bucket-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        # `insecure_value`: a public String parameter, not a secret — the layer ARN stays readable in diffs.
        self.layer_arn = aws.ssm.get_parameter_output(
            name=EXTENSION_PARAMETER, region=args.region, opts=pulumi.InvokeOutputOptions(parent=self)
        ).insecure_value
        self.location = configuration_location(self.bucket.bucket)
        self.instrumentation = Instrumentation(
            layers=[self.layer_arn],
            environment={
                "AWS_LAMBDA_EXEC_WRAPPER": EXEC_WRAPPER,
                "AWS_FIS_CONFIGURATION_LOCATION": self.location,
                "AWS_FIS_POLL_MAX_WAIT_MILLISECONDS": str(POLL_MAX_WAIT_MILLISECONDS),
                "AWS_FIS_SLOW_POLL_INTERVAL_SECONDS": str(SLOW_POLL_INTERVAL_SECONDS),
                "AWS_FIS_LOG_LEVEL": EXTENSION_LOG_LEVEL,
                "AWS_FIS_EXTENSION_METRICS": EXTENSION_METRICS,
            },
            statements=extension_read_statements(self.bucket.arn),
        )
        self.register_outputs(
            {"bucketName": self.bucket.bucket, "configurationLocation": self.location, "layerArn": self.layer_arn}
        )


# ----------------------------------------------------------------------------------------------- experiments
def fis_trust_policy(account: pulumi.Input[str], region: str) -> dict[str, Any]:
    """Only FIS experiments of this account and region may assume the role (confused-deputy conditions of
    https://docs.aws.amazon.com/fis/latest/userguide/getting-started-iam-service-role.html)."""
    return service_trust_policy(
        "fis.amazonaws.com",
        condition={
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": pulumi.Output.concat("arn:aws:fis:", region, ":", account, ":experiment/*")},
        },
    )


def experiment_statements(
    bucket_arn: pulumi.Input[str],
    function_arn: pulumi.Input[str],
    account: pulumi.Input[str],
    region: str,
) -> list[Statement]:
    """What the Lambda actions are documented to need (fis-actions-reference.html#invocation-add-delay and
    #invocation-error: s3:PutObject, s3:DeleteObject, lambda:GetFunction, tag:GetResources), plus delivery of
    the experiment log. Stop conditions need nothing here: FIS reads the alarms with its service-linked role
    (AmazonFISServiceRolePolicy, https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonFISServiceRolePolicy.html)."""
    return [
        {
            "Sid": "WriteFaultConfiguration",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject"],
            "Resource": configuration_objects_arn(bucket_arn),
        },
        {
            # The docs' template grants "*"; the experiment targets one function, named by ARN.
            "Sid": "InspectTargetFunction",
            "Effect": "Allow",
            "Action": "lambda:GetFunction",
            "Resource": function_arn,
        },
        {
            # tag:GetResources has no resource-level permissions: "*" is the only resource IAM accepts.
            "Sid": "ResolveTargets",
            "Effect": "Allow",
            "Action": "tag:GetResources",
            "Resource": "*",
        },
        {
            # Vended-log delivery to CloudWatch Logs ("Logs sent to CloudWatch Logs",
            # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-CWL.html):
            # CreateLogDelivery has no resource-level permissions ("*")...
            "Sid": "DeliverExperimentLogs",
            "Effect": "Allow",
            "Action": "logs:CreateLogDelivery",
            "Resource": "*",
        },
        {
            # ...and the resource-policy calls must name log groups by wildcard, not one group (same page).
            "Sid": "LetLogDeliveryWrite",
            "Effect": "Allow",
            "Action": ["logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"],
            "Resource": pulumi.Output.concat("arn:aws:logs:", region, ":", account, ":log-group:*"),
        },
    ]


@dataclass(frozen=True)
class Experiment:
    """One experiment template: its action, parameters, and the guards that stop it."""

    key: str  # child-name and tag suffix: "latency", "errors"
    action_id: str
    parameters: dict[str, str]
    description: str


def iso_minutes(minutes: int) -> str:
    """An FIS action duration: ISO 8601, e.g. PT5M (fis-actions-reference.html, "duration")."""
    return f"PT{minutes}M"


@dataclass(frozen=True)
class FaultExperimentsArgs:
    prefix: str  # "<project>-<stack>"
    region: str
    log_retention_days: int
    configuration: ExperimentConfiguration
    service: ImageService
    latency_delay_milliseconds: int
    latency_percentage: int
    latency_duration_minutes: int
    errors_percentage: int
    errors_duration_minutes: int
    guard_error_rate_percent: int

    @classmethod
    def from_settings(
        cls, settings: Settings, *, configuration: ExperimentConfiguration, service: ImageService
    ) -> FaultExperimentsArgs:
        return cls(
            prefix=settings.prefix,
            region=settings.region,
            log_retention_days=settings.log_retention_days,
            configuration=configuration,
            service=service,
            latency_delay_milliseconds=settings.fis_latency_delay_milliseconds,
            latency_percentage=settings.fis_latency_percentage,
            latency_duration_minutes=settings.fis_latency_duration_minutes,
            errors_percentage=settings.fis_errors_percentage,
            errors_duration_minutes=settings.fis_errors_duration_minutes,
            guard_error_rate_percent=settings.fis_guard_error_rate_percent,
        )

    def experiments(self) -> list[Experiment]:
        return [
            Experiment(
                key="latency",
                action_id="aws:lambda:invocation-add-delay",
                parameters={
                    "duration": iso_minutes(self.latency_duration_minutes),
                    "invocationPercentage": str(self.latency_percentage),
                    "startupDelayMilliseconds": str(self.latency_delay_milliseconds),
                },
                description=f"{self.prefix}: add {self.latency_delay_milliseconds} ms before "
                f"{self.latency_percentage}% of image function invocations",
            ),
            Experiment(
                key="errors",
                action_id="aws:lambda:invocation-error",
                parameters={
                    "duration": iso_minutes(self.errors_duration_minutes),
                    "invocationPercentage": str(self.errors_percentage),
                    # Fail without running the handler: the fault is the extension's alone, no S3 read happens.
                    "preventExecution": "true",
                },
                description=f"{self.prefix}: fail {self.errors_percentage}% of image function invocations",
            ),
        ]


def rate_guard_alarm(
    resource_name: str,
    *,
    alarm_name: str,
    description: str,
    namespace: str,
    failures: str,
    requests: str,
    dimensions: dict[str, pulumi.Input[str]],
    threshold_percent: int,
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """ALARM when failures / requests (in %) stay above the threshold for GUARD_MINUTES, counting only minutes
    with GUARD_MIN_REQUESTS requests or more. No actions: it is a stop condition, nothing else."""

    def metric(query_id: str, metric_name: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=query_id,
            # PutMetricAlarm takes exactly one query that returns data: the rate below.
            return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
                namespace=namespace,
                metric_name=metric_name,
                dimensions=dimensions,
                stat="Sum",
                period=GUARD_PERIOD_SECONDS,
            ),
        )

    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=description,
        metric_queries=[
            metric("failures", failures),
            metric("requests", requests),
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="rate",
                label="failure rate (%)",
                # FILL: a minute with requests and no failure has no failures datapoint; it is 0 %.
                expression=f"IF(requests >= {GUARD_MIN_REQUESTS}, 100 * FILL(failures, 0) / requests, 0)",
                return_data=True,
            ),
        ],
        threshold=threshold_percent,
        comparison_operator="GreaterThanThreshold",
        evaluation_periods=GUARD_MINUTES,
        datapoints_to_alarm=GUARD_MINUTES,
        treat_missing_data="notBreaching",  # no traffic: no harm
        opts=opts,
    )


class FaultExperiments(pulumi.ComponentResource):
    """Guard alarms, the experiments' log group, and one role and template per experiment."""

    api_error_rate_guard: aws.cloudwatch.MetricAlarm
    function_error_rate_guard: aws.cloudwatch.MetricAlarm
    log_group: aws.cloudwatch.LogGroup
    roles: dict[str, aws.iam.Role]
    templates: dict[str, aws.fis.ExperimentTemplate]  # "latency", "errors"

    def __init__(self, name: str, args: FaultExperimentsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:FaultExperiments", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        function = args.service.api_function
        self.api_error_rate_guard, self.function_error_rate_guard = self._guards(name, args, function, child)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=FIS_LOG_GROUP.of(args.prefix),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        # Why both guards stop both experiments:
        # - the API 5XX rate: what callers get. The errors experiment plans errors_percentage% of failures; more
        #   than the guard means something besides the plan fails too (the seed's fault, a bad deploy). For the
        #   latency experiment any failure is unplanned: a delay that turns into timeouts.
        # - the function's error rate: the same judgement at the function, which also sees invocations that
        #   never reach the API (the drill's direct invokes) and is not masked by API Gateway's own answers.
        # The stack's 5XX and Errors alarms fire on a single error, so they would stop an errors experiment at
        # its first symptom: they are not stop conditions.
        guards = [self.api_error_rate_guard, self.function_error_rate_guard]
        self.roles, self.templates = {}, {}
        for experiment in args.experiments():
            role, template = self._experiment(name, args, experiment, function, account, guards, child)
            self.roles[experiment.key], self.templates[experiment.key] = role, template

        self.register_outputs(
            {
                "latencyTemplateId": self.templates["latency"].id,
                "errorsTemplateId": self.templates["errors"].id,
                "logGroupName": self.log_group.name,
                "apiErrorRateGuardName": self.api_error_rate_guard.name,
                "functionErrorRateGuardName": self.function_error_rate_guard.name,
            }
        )

    def _guards(
        self, name: str, args: FaultExperimentsArgs, function: PythonFunction, child: pulumi.ResourceOptions
    ) -> tuple[aws.cloudwatch.MetricAlarm, aws.cloudwatch.MetricAlarm]:
        planned = f"above {args.guard_error_rate_percent}% (the errors experiment plans {args.errors_percentage}%)"
        api = rate_guard_alarm(
            f"{name}-api-error-rate-guard",
            alarm_name=FIS_API_5XX_RATE_GUARD.of(args.prefix),
            description=f"FIS stop condition: the image API's 5XX rate is {planned}",
            namespace="AWS/ApiGateway",
            failures="5XXError",
            requests="Count",
            dimensions={"ApiName": args.service.rest_api.name, "Stage": STAGE_NAME},
            threshold_percent=args.guard_error_rate_percent,
            opts=child,
        )
        fn = rate_guard_alarm(
            f"{name}-function-error-rate-guard",
            alarm_name=FIS_ERROR_RATE_GUARD.of(args.prefix),
            description=f"FIS stop condition: the image function's error rate is {planned}",
            namespace="AWS/Lambda",
            failures="Errors",
            requests="Invocations",
            dimensions={"FunctionName": function.function.name},
            threshold_percent=args.guard_error_rate_percent,
            opts=child,
        )
        return api, fn

    def _experiment(
        self,
        name: str,
        args: FaultExperimentsArgs,
        experiment: Experiment,
        function: PythonFunction,
        account: pulumi.Output[str],
        guards: Sequence[aws.cloudwatch.MetricAlarm],
        child: pulumi.ResourceOptions,
    ) -> tuple[aws.iam.Role, aws.fis.ExperimentTemplate]:
        role = aws.iam.Role(
            f"{name}-{experiment.key}-role",
            assume_role_policy=pulumi.Output.json_dumps(fis_trust_policy(account, args.region)),
            description=f"FIS {experiment.key} experiment on {args.prefix}'s image function",
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-{experiment.key}-policy",
            role=role.id,
            policy=pulumi.Output.json_dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": experiment_statements(
                        args.configuration.bucket.arn, function.function.arn, account, args.region
                    ),
                }
            ),
            opts=child,
        )
        template = aws.fis.ExperimentTemplate(
            f"{name}-{experiment.key}",
            description=experiment.description,
            role_arn=role.arn,
            targets=[
                aws.fis.ExperimentTemplateTargetArgs(
                    name=TARGET_NAME,
                    resource_type=LAMBDA_TARGET_TYPE,
                    resource_arns=[function.function.arn],
                    selection_mode="ALL",
                )
            ],
            actions=[
                aws.fis.ExperimentTemplateActionArgs(
                    name=experiment.key,
                    action_id=experiment.action_id,
                    target=aws.fis.ExperimentTemplateActionTargetArgs(key=LAMBDA_TARGET_KEY, value=TARGET_NAME),
                    parameters=[
                        aws.fis.ExperimentTemplateActionParameterArgs(key=k, value=v)
                        for k, v in experiment.parameters.items()
                    ],
                )
            ],
            stop_conditions=[
                aws.fis.ExperimentTemplateStopConditionArgs(source="aws:cloudwatch:alarm", value=guard.arn)
                for guard in guards
            ],
            log_configuration=aws.fis.ExperimentTemplateLogConfigurationArgs(
                log_schema_version=LOG_SCHEMA_VERSION,
                cloudwatch_logs_configuration=aws.fis.ExperimentTemplateLogConfigurationCloudwatchLogsConfigurationArgs(
                    # FIS takes the log group ARN in its ":*" form (as DescribeLogGroups gives it).
                    log_group_arn=pulumi.Output.concat(self.log_group.arn, ":*"),
                ),
            ),
            experiment_options=aws.fis.ExperimentTemplateExperimentOptionsArgs(
                account_targeting="single-account",
                # A missing function is a broken stack, not an experiment that "succeeds" on nothing.
                empty_target_resolution_mode="fail",
            ),
            # FIS templates have no name; the console lists them by this tag.
            tags={"Name": f"{args.prefix}-function-{experiment.key}"},
            # FIS checks the role when the template is created or an experiment starts: its policy first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return role, template
