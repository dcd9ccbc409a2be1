"""FaultInjection: the incident drill's trigger — invocations alarm → fault_injector → bucket-policy Deny.

When the image function is invoked `threshold` times within `period_seconds`, the alarm goes to ALARM and
its action runs fault_injector asynchronously; the function adds Sid-tagged Deny statements for the image
function's role to the bucket policy. `{"action": "restore"}` removes them (see the function's docstring).

The whole chain lives here, so a stack that does not construct this component (faultInjectionEnabled
false) has none of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.alarms import Metric, count_alarm
from components.config import Settings
from components.function import PythonFunction, PythonFunctionArgs
from components.names import FAULT_ALARM, FAULT_INJECTOR_FUNCTION

ALARM_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"

# Alarm actions invoke asynchronously: without this, a throttled or failed invoke is retried twice and an
# event may wait hours in the queue. The function also ignores events older than this: it is told the figure
# in its environment (MAX_EVENT_AGE_SECONDS), so this is its one source.
MAX_EVENT_AGE_SECONDS = 300


def alarm_name(prefix: str) -> str:
    return FAULT_ALARM.of(prefix)


def alarm_arn(region: str, account: pulumi.Input[str], prefix: str) -> pulumi.Output[str]:
    """The alarm's ARN from its deterministic name: the function learns it without waiting for the alarm
    (whose action is the function — depending on the alarm would be a cycle)."""
    return pulumi.Output.concat("arn:aws:cloudwatch:", region, ":", account, ":alarm:", alarm_name(prefix))


@dataclass(frozen=True)
class FaultInjectionArgs:
    prefix: str  # "<project>-<stack>": physical names, so two stacks can share an account
    bucket: aws.s3.Bucket  # the image bucket whose policy the fault changes
    target_function: PythonFunction  # the image function: its invocations trip the alarm, its role is denied
    log_retention_days: int
    region: str
    threshold: int  # invocations (Sum) within one period that trip the alarm
    period_seconds: int
    armed: bool  # the alarm's actions_enabled (config faultArmed); the drill arms and disarms it

    @classmethod
    def from_settings(
        cls, settings: Settings, *, bucket: aws.s3.Bucket, target_function: PythonFunction
    ) -> FaultInjectionArgs:
        """Every setting from the stack's settings (their defaults are config.DEFAULTS, nowhere else)."""
        return cls(
            prefix=settings.prefix,
            bucket=bucket,
            target_function=target_function,
            log_retention_days=settings.log_retention_days,
            region=settings.region,
            threshold=settings.fault_alarm_threshold,
            period_seconds=settings.fault_alarm_period_seconds,
            armed=settings.fault_armed,
        )


class FaultInjection(pulumi.ComponentResource):
    """The alarm on the image function's invocations and the function its action runs."""

    function: PythonFunction  # fault_injector
    alarm: aws.cloudwatch.MetricAlarm  # "<prefix>-lambda-trigger-alarm"
    permission: aws.lambda_.Permission  # lets that alarm (and only it) invoke fault_injector
    invoke_config: aws.lambda_.FunctionEventInvokeConfig  # no retries, short event age

    def __init__(self, name: str, args: FaultInjectionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:FaultInjection", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        target = args.target_function
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id

        self.function = PythonFunction(
            f"{name}-injector",
            PythonFunctionArgs(
                code_dir="fault_injector",
                function_name=FAULT_INJECTOR_FUNCTION.of(args.prefix),
                description="Incident drill: adds (on ALARM) or removes ({action: restore}) a bucket-policy Deny",
                log_retention_days=args.log_retention_days,
                timeout=30,
                environment={
                    "BUCKET_NAME": args.bucket.bucket,
                    "TARGET_ROLE_ARN": target.role.arn,
                    # The function acts only on events from this alarm, and only on fresh ones.
                    "ALARM_ARN": alarm_arn(args.region, account, args.prefix),
                    "MAX_EVENT_AGE_SECONDS": str(MAX_EVENT_AGE_SECONDS),
                },
                statements=[
                    {
                        # Read-merge-write of the policy, and delete when restore leaves nothing. Nothing
                        # else: the fault function cannot read or write objects.
                        "Sid": "ManageImageBucketPolicy",
                        "Effect": "Allow",
                        "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"],
                        "Resource": args.bucket.arn,
                    }
                ],
            ),
            opts=child,
        )
        # No reserved concurrency: it fails the deploy in accounts whose concurrency quota is 10.
        self.invoke_config = aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=self.function.function.name,
            maximum_retry_attempts=0,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            opts=child,
        )

        self.alarm = count_alarm(
            f"{name}-alarm",
            Metric("AWS/Lambda", "Invocations", {"FunctionName": target.function.name}),
            alarm_name=alarm_name(args.prefix),
            description=pulumi.Output.format(
                "Incident drill trigger: {0} invoked {1} or more times in {2} s. The action runs {3}, which denies "
                "{0}'s role access to the image bucket (the API then answers 500). Undo: invoke {3} with "
                '{{"action": "restore"}}.',
                target.function.name,
                args.threshold,
                args.period_seconds,
                self.function.function.name,
            ),
            period_seconds=args.period_seconds,
            threshold=args.threshold,
            actions=[self.function.function.arn],
            armed=args.armed,
            opts=child,
        )

        # The permission needs the alarm's ARN, so it is created just after the alarm. The alarm can only
        # act once the image function has been invoked `threshold` times after creation, seconds later at
        # the earliest; an action that did run first would fail visibly in the alarm's history, and the
        # alarm acts again on its next transition to ALARM.
        self.permission = aws.lambda_.Permission(
            f"{name}-alarm-invoke",
            action="lambda:InvokeFunction",
            function=self.function.function.name,
            principal=ALARM_PRINCIPAL,
            source_arn=self.alarm.arn,
            source_account=account,
            # The alarm can invoke only through this permission: by then the function's role policy
            # and its async settings are in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*self.function.invoke_ready, self.invoke_config]),
        )

        self.register_outputs(
            {
                "functionName": self.function.function.name,
                "functionArn": self.function.function.arn,
                "alarmName": self.alarm.name,
                "alarmArn": self.alarm.arn,
            }
        )
