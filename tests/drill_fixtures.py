"""Shared helpers for the drill tests: a moto server, the stack's resources built in moto, the faults.

The resources mirror what the Pulumi program deploys (names per the stack contract), so the drill
reads them exactly as it would read a real stack. Each case gets its own prefix, so one server holds
every case at once and the CLI runs can go in parallel.
"""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from conftest import ACCOUNT, REGION, ROOT, tls_only_statement

from components.iam import service_trust_policy

ROOT_DIR = ROOT
LAMBDA_TRUST = service_trust_policy("lambda.amazonaws.com")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    """A moto server on 127.0.0.1 and a free port; yields its URL."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def cli_env(endpoint: str | None) -> dict[str, str]:
    """The environment for `python -m drill` subprocesses: fake credentials, the moto endpoint."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        # moto answers unimplemented calls with HTTP 500, which boto3 would retry with backoff.
        AWS_MAX_ATTEMPTS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def least_privilege(bucket: str, parameter: str) -> dict[str, Any]:
    """The image role's inline policy, as the stack writes it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadBucketParameter",
                "Effect": "Allow",
                "Action": "ssm:GetParameter",
                "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{parameter}",
            },
            {"Sid": "ListImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {"Sid": "ReadImages", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        ],
    }


@dataclass
class MotoStack:
    """One stack's resources in moto and its outputs (as `pulumi stack output --json` prints them)."""

    prefix: str
    clients: dict[str, Any]
    outputs: dict[str, str]
    role_name: str
    role_arn: str

    @property
    def bucket(self) -> str:
        return self.outputs["S3BucketName"]

    @property
    def parameter(self) -> str:
        return self.outputs["BucketNameParameter"]

    @property
    def function(self) -> str:
        return self.outputs["LambdaFunctionName"]

    def client(self, service: str) -> Any:
        return self.clients[service]


def aws_clients(endpoint: str | None) -> dict[str, Any]:
    kwargs = {"region_name": REGION, **({"endpoint_url": endpoint} if endpoint else {})}
    return {s: boto3.client(s, **kwargs) for s in ("s3", "ssm", "iam", "lambda", "cloudwatch", "logs")}


def build_stack(
    endpoint: str | None,
    prefix: str,
    *,
    images: int = 3,
    fault_chain: bool = True,
    tls_only_policy: bool = True,
) -> MotoStack:
    """Bucket with images, parameter, least-privilege role, functions, alarms, log group."""
    c = aws_clients(endpoint)
    bucket, parameter = f"{prefix}-images", f"/{prefix}/bucket-name"
    fn, fault_fn = f"{prefix}-image-api", f"{prefix}-fault-injector"
    c["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for number in range(images):
        c["s3"].put_object(Bucket=bucket, Key=f"image-{number}.png", Body=b"\x89PNG\r\n\x1a\n" + bytes(16))
    c["s3"].put_object(Bucket=bucket, Key="README.txt", Body=b"not an image")
    if tls_only_policy:
        # moto ignores conditions, so this would deny GetObject to everyone there: only for tests that do
        # not read objects. The drill must not count it against the image role.
        policy = {"Version": "2012-10-17", "Statement": [tls_only_statement(bucket)]}
        c["s3"].put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    c["ssm"].put_parameter(Name=parameter, Type="String", Value=bucket)

    role_name = f"{prefix}-image-api-role"
    role_arn = c["iam"].create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))["Role"][
        "Arn"
    ]
    c["iam"].put_role_policy(
        RoleName=role_name, PolicyName="image-api-access", PolicyDocument=json.dumps(least_privilege(bucket, parameter))
    )
    logs_policy = c["iam"].create_policy(
        PolicyName=f"{prefix}-image-api-logs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{fn}:*",
                    }
                ],
            }
        ),
    )["Policy"]["Arn"]
    c["iam"].attach_role_policy(RoleName=role_name, PolicyArn=logs_policy)
    c["lambda"].create_function(
        FunctionName=fn,
        Runtime="python3.13",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": tiny_zip()},
        Environment={"Variables": {"BUCKET_NAME_PARAMETER": parameter}},
    )
    c["logs"].create_log_group(logGroupName=f"/aws/lambda/{fn}")

    outputs = {
        "S3BucketName": bucket,
        "LambdaFunctionName": fn,
        "BedrockLambdaName": f"{prefix}-image-seeder",
        "ApiEndpoint": f"https://a1b2c3d4e5.execute-api.{REGION}.amazonaws.com/prod/random",
        "BucketNameParameter": parameter,
        "ApiGateway5XXAlarmName": f"{prefix}-api-5xx-alarm",
        "LambdaErrorsAlarmName": f"{prefix}-image-api-errors-alarm",
    }
    alarm = {
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1.0,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }
    c["cloudwatch"].put_metric_alarm(
        AlarmName=outputs["ApiGateway5XXAlarmName"],
        Namespace="AWS/ApiGateway",
        MetricName="5XXError",
        Dimensions=[{"Name": "ApiName", "Value": f"{prefix}-api"}, {"Name": "Stage", "Value": "prod"}],
        **alarm,
    )
    c["cloudwatch"].put_metric_alarm(
        AlarmName=outputs["LambdaErrorsAlarmName"],
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Dimensions=[{"Name": "FunctionName", "Value": fn}],
        **alarm,
    )
    if fault_chain:
        fault_role = c["iam"].create_role(
            RoleName=f"{prefix}-fault-injector-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
        )["Role"]["Arn"]
        fault_arn = c["lambda"].create_function(
            FunctionName=fault_fn,
            Runtime="python3.13",
            Role=fault_role,
            Handler="handler.handler",
            Code={"ZipFile": tiny_zip()},
            Environment={"Variables": {"BUCKET_NAME": bucket, "TARGET_ROLE_ARN": role_arn}},
        )["FunctionArn"]
        c["logs"].create_log_group(logGroupName=f"/aws/lambda/{fault_fn}")
        outputs["BucketPolicyLambdaName"] = fault_fn
        outputs["CloudWatchAlarmName"] = f"{prefix}-lambda-trigger-alarm"
        c["cloudwatch"].put_metric_alarm(
            AlarmName=outputs["CloudWatchAlarmName"],
            Namespace="AWS/Lambda",
            MetricName="Invocations",
            Dimensions=[{"Name": "FunctionName", "Value": fn}],
            AlarmActions=[fault_arn],
            **{**alarm, "Threshold": 3.0},
        )
    return MotoStack(prefix=prefix, clients=c, outputs=outputs, role_name=role_name, role_arn=role_arn)


# ------------------------------------------------------------------------------------------ faults
def inject_fault_like_the_fault_function(stack: MotoStack) -> None:
    """Merge the two AiopsFaultInjection Deny statements into the existing policy, as the injector does."""
    s3 = stack.client("s3")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])
    except s3.exceptions.ClientError:
        policy = {"Version": "2012-10-17", "Statement": []}
    policy["Statement"] += [
        {
            "Sid": "AiopsFaultInjectionDenyListBucket",
            "Effect": "Deny",
            "Principal": {"AWS": stack.role_arn},
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{stack.bucket}",
        },
        {
            "Sid": "AiopsFaultInjectionDenyGetObject",
            "Effect": "Deny",
            "Principal": {"AWS": stack.role_arn},
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{stack.bucket}/*",
        },
    ]
    s3.put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(policy))


def remove_role_permission(stack: MotoStack) -> None:
    """An operator "tightens" the role: the inline policy loses s3:GetObject."""
    policy = least_privilege(stack.bucket, stack.parameter)
    policy["Statement"] = [s for s in policy["Statement"] if s["Action"] != "s3:GetObject"]
    stack.client("iam").put_role_policy(
        RoleName=stack.role_name, PolicyName="image-api-access", PolicyDocument=json.dumps(policy)
    )


def delete_parameter(stack: MotoStack) -> None:
    stack.client("ssm").delete_parameter(Name=stack.parameter)


def point_parameter_at_missing_bucket(stack: MotoStack) -> None:
    stack.client("ssm").put_parameter(Name=stack.parameter, Type="String", Value=f"{stack.prefix}-gone", Overwrite=True)


def delete_all_images(stack: MotoStack) -> None:
    s3 = stack.client("s3")
    keys = [{"Key": o["Key"]} for o in s3.list_objects_v2(Bucket=stack.bucket).get("Contents", [])]
    images = [k for k in keys if k["Key"].endswith(".png")]
    answer = s3.delete_objects(Bucket=stack.bucket, Delete={"Objects": images})
    assert not answer.get("Errors"), answer["Errors"]  # moto applies a Deny s3:* to deletes, conditions ignored


def throttle_function(stack: MotoStack) -> None:
    stack.client("lambda").put_function_concurrency(FunctionName=stack.function, ReservedConcurrentExecutions=0)
