"""PythonFunction: the one way this project builds a Lambda function.

Role (trusted by Lambda only) with the caller's least-privilege statements plus log and X-Ray writes,
an explicit log group created before the function (so destroy removes it and retention applies from
the first line), and the function itself, packaged from `functions/<code_dir>` and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from components.iam import service_trust_policy
from components.names import function_log_group

FUNCTIONS_DIR = "functions"  # relative to the project root, where `pulumi up` runs the program
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"

# A policy statement as Python data; values may be Outputs (ARNs of other resources).
Statement = Mapping[str, Any]

# AWS offers no narrower resource than "*" for X-Ray segment writes.
XRAY_WRITE = {
    "Sid": "XRayWrite",
    "Effect": "Allow",
    "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
    "Resource": "*",
}


@dataclass(frozen=True)
class Instrumentation:
    """Extra layers, environment, managed policies and role statements a function gets from an extension that
    wraps it (Application Signals, the FIS extension: one AWS_LAMBDA_EXEC_WRAPPER, so one at a time)."""

    layers: Sequence[pulumi.Input[str]] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    managed_policy_arns: Sequence[pulumi.Input[str]] = ()
    statements: Sequence[Statement] = ()  # what the extension itself calls with the function's role


@dataclass(frozen=True)
class PythonFunctionArgs:
    code_dir: str  # folder under functions/ holding handler.py (entry point `handler.handler`)
    function_name: str  # physical name; the log group is named after it, so it must be known up front
    statements: Sequence[Statement]  # the function's own permissions, one Sid-tagged statement per purpose
    log_retention_days: int
    description: str = ""
    memory_size: int = 128
    timeout: int = 30
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    layers: Sequence[pulumi.Input[str]] = ()
    managed_policy_arns: Sequence[pulumi.Input[str]] = ()


def function_code_path(code_dir: str) -> str:
    """The archive path for a function, checked so a typo fails at preview with a clear message."""
    path = Path(FUNCTIONS_DIR, code_dir)
    if not (path / "handler.py").is_file():
        raise ValueError(f"function code {path}/handler.py not found (run pulumi from the project root)")
    return path.as_posix()


def role_policy_document(statements: Sequence[Statement], log_group_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The role's inline policy: caller statements, writes to its own log group, X-Ray."""
    log_write = {
        "Sid": "WriteOwnLogs",
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": pulumi.Output.concat(log_group_arn, ":*"),
    }
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": [*statements, log_write, XRAY_WRITE]})


LAMBDA_TRUST = service_trust_policy("lambda.amazonaws.com")


class PythonFunction(pulumi.ComponentResource):
    """A Python 3.13 arm64 Lambda with its own role, log group and X-Ray tracing."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy
    # What anything that invokes the function (an API stage, an alarm's permission, a deploy-time
    # Invocation) must wait for: the function and every policy of its role.
    invoke_ready: list[pulumi.Resource]

    def __init__(self, name: str, args: PythonFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiops:index:PythonFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        code_path = function_code_path(args.code_dir)

        self.role = aws.iam.Role(
            f"{name}-role",
            assume_role_policy=pulumi.Output.json_dumps(LAMBDA_TRUST),
            description=f"Execution role of {args.function_name}",
            opts=child,
        )
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=function_log_group(args.function_name),
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        self.policy = policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=role_policy_document(args.statements, self.log_group.arn),
            opts=child,
        )
        attachments = [
            aws.iam.RolePolicyAttachment(f"{name}-managed-{index}", role=self.role.name, policy_arn=arn, opts=child)
            for index, arn in enumerate(args.managed_policy_arns)
        ]
        self.function = aws.lambda_.Function(
            f"{name}-fn",
            name=args.function_name,
            description=args.description,
            role=self.role.arn,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler="handler.handler",
            code=pulumi.FileArchive(code_path),
            memory_size=args.memory_size,
            timeout=args.timeout,
            layers=list(args.layers) or None,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=dict(args.environment))
            if args.environment
            else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="JSON",
                log_group=self.log_group.name,
                application_log_level="INFO",
                system_log_level="WARN",
            ),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # The log group must exist first (or Lambda creates an unmanaged one). The role's policies
            # need not: what invokes the function waits for them through `invoke_ready`, so the function
            # does not lengthen the deploy's critical path. With tracing Active, CreateFunction checks the
            # role may write to X-Ray and answers "execution role does not have permissions" until the
            # policy has propagated; the AWS provider retries exactly that error while IAM catches up.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
        )
        self.invoke_ready = [self.function, policy, *attachments]
        self.register_outputs(
            {
                "functionName": self.function.name,
                "functionArn": self.function.arn,
                "roleArn": self.role.arn,
                "logGroupName": self.log_group.name,
            }
        )
