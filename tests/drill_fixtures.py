"""Shared helpers for the drill tests: a moto server, the program's stack built in moto, the faults.

The stacks are the program's own: `build_stack` replays the rehearsal's replica of `pulumi up`, recorded
once per session (tests/stack_plan.py), so the drill reads the names, policies, alarms and parameter
the program deploys. Each case gets its own prefix, so one server holds every case at once and the CLI
runs can go in parallel.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import rehearsal_run
import stack_plan
from conftest import ACCOUNT, REGION, ROOT, in_e2e_test, tls_only_statement

from components.iam import service_trust_policy
from drill.fault_policy import fault_statements
from drill.rehearsal.moto_server import moto_server as rehearsal_moto_server

ROOT_DIR = ROOT
LAMBDA_TRUST = service_trust_policy("lambda.amazonaws.com")


@pytest.fixture(scope="module")
def moto_server():
    """A moto server on 127.0.0.1 and a free port (the rehearsal's own); yields its URL."""
    with rehearsal_moto_server() as endpoint:
        yield endpoint.url


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


def run_drill(*args: str, env: dict[str, str]) -> subprocess.Popen:
    """Start `python -m drill ARGS` from the repository root (as a person would run it)."""
    return subprocess.Popen(  # noqa: S603 (our own interpreter and module, fixed arguments)
        [sys.executable, "-m", "drill", *args],
        cwd=ROOT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_investigations(
    endpoint: str, folder: Path, cases: dict[str, tuple[Any, ...]], make_stack: Callable[[str], MotoStack]
) -> tuple[dict[str, MotoStack], dict[str, subprocess.Popen]]:
    """Per case (name -> (fault or None, ...)): its stack, the fault applied, the outputs written to
    `folder/<case>.json`, and `python -m drill investigate --json` started on them. Each run starts as soon
    as its stack is ready, so the runs overlap; the caller collects them."""
    env = cli_env(endpoint)
    stacks, running = {}, {}
    for case, (fault, *_) in cases.items():
        stack = make_stack(case)
        if fault:
            fault(stack)
        outputs = folder / f"{case}.json"
        outputs.write_text(json.dumps(stack.outputs))
        stacks[case] = stack
        running[case] = run_drill("investigate", "--json", "--outputs", str(outputs), env=env)
    return stacks, running


@functools.cache
def stack_plans() -> dict[str, stack_plan.Plan]:
    """The program's deploy, recorded once per test session: in the background since the session started
    (conftest.py), or now when this run did not start it (a single test file, say)."""
    folder = os.environ.get(stack_plan.FOLDER_VARIABLE)
    if folder is None:  # recorded here, into a folder of this call's own: nothing of it is left once read
        with tempfile.TemporaryDirectory(prefix="aiops-stack-plan-") as own:
            stack_plan.start(Path(own)).wait()
            return _read_plans(Path(own))
    return _read_plans(Path(folder))  # the session's (conftest removes it at the end)


def _read_plans(folder: Path) -> dict[str, stack_plan.Plan]:
    code, _, stderr, _ = rehearsal_run.result(folder, timeout=stack_plan.TIMEOUT_SECONDS)
    assert code == 0, f"recording the program's stack failed:\n{stderr}"
    return stack_plan.load(folder / stack_plan.FILE)


@dataclass
class MotoStack:
    """One stack's resources in moto and its outputs (as `pulumi stack output --json` prints them)."""

    prefix: str
    clients: dict[str, Any]
    outputs: dict[str, str]
    role_name: str
    role_arn: str
    api_name: str  # the REST API's name: API Gateway's metrics name the API by it

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
    """Clients for the moto server at `endpoint`, or for the in-process moto (None) through boto3's default
    session (conftest's shared one, under `aws_mock`)."""
    return _clients(endpoint, boto3._get_default_session())


@functools.cache
def _clients(endpoint: str | None, session: boto3.Session) -> dict[str, Any]:
    """Made once per endpoint and session: a client costs about 30 ms of CPU to make, more than the calls
    one stack needs of it (botocore clients are thread-safe, and keep no state of a stack)."""
    kwargs = {"region_name": REGION, **({"endpoint_url": endpoint} if endpoint else {})}
    services = ("s3", "ssm", "iam", "lambda", "cloudwatch", "logs", "apigateway", "sts", "dynamodb")
    return {s: session.client(s, **kwargs) for s in services}


def build_stack(
    endpoint: str | None,
    prefix: str,
    *,
    images: int = 3,
    fault_chain: bool = True,
    tls_only_policy: bool = True,
    objects: dict[str, bytes] | None = None,
) -> MotoStack:
    """The program's stack under `prefix` (`<project>-<stack>`), as the rehearsal's replica deploys it
    (tests/stack_plan.py), in the moto server at `endpoint` or the in-process moto (None).

    `fault_chain` False deploys it with faultInjectionEnabled=false. The bucket holds `objects` (key -> body),
    by default `images` PNG objects and a README.txt. `tls_only_policy` then puts the program's bucket policy
    on the bucket as it declares it: moto ignores conditions, so its TLS-only Deny would deny GetObject to
    everyone there (the replica leaves it out) — only for tests that do not read objects."""
    # The whole stack is end-to-end: a test that builds it runs in `.ci/run`'s e2e step, never in the README's
    # command, whose time the per-stack replay and the session's recording would double (issue 17 §8).
    assert in_e2e_test(), "a test that builds the program's stack must be marked e2e (@pytest.mark.e2e)"
    c = aws_clients(endpoint)
    plan = stack_plans()["full" if fault_chain else "no_fault_chain"]
    outputs, renames = stack_plan.replay(plan, c, prefix)
    bucket = outputs["S3BucketName"]
    if objects is None:
        objects = {f"image-{n}.png": b"\x89PNG\r\n\x1a\n" + bytes(16) for n in range(images)}
        objects["README.txt"] = b"not an image"
    for key, body in objects.items():
        c["s3"].put_object(Bucket=bucket, Key=key, Body=body)
    if tls_only_policy:
        declared = plan.declared_input("aws:s3/bucketPolicy:BucketPolicy", "policy")
        c["s3"].put_bucket_policy(Bucket=bucket, Policy=renames.apply(declared))
    role_arn = outputs["ImageFunctionRoleArn"]
    api_name = c["apigateway"].get_rest_api(restApiId=outputs["RestApiId"])["name"]
    outputs = {k: v for k, v in outputs.items() if isinstance(v, str)}
    return MotoStack(prefix, c, outputs, role_name=role_arn.rsplit("/", 1)[-1], role_arn=role_arn, api_name=api_name)


def function_environment(stack: MotoStack, function: str) -> dict[str, str]:
    """The environment variables the stack gives `function` (a function name)."""
    configuration = stack.client("lambda").get_function_configuration(FunctionName=function)
    return dict(configuration.get("Environment", {}).get("Variables", {}))


def api_permission(stack: MotoStack) -> dict[str, Any]:
    """The image function's resource-policy statement that lets API Gateway invoke it."""
    policy = json.loads(stack.client("lambda").get_policy(FunctionName=stack.function)["Policy"])
    [statement] = [s for s in policy["Statement"] if s["Principal"] == {"Service": "apigateway.amazonaws.com"}]
    return statement


# ------------------------------------------------------------------------------------------ faults
def inject_fault_like_the_fault_function(stack: MotoStack) -> None:
    """Merge the two AiopsFaultInjection Deny statements into the existing policy, as the injector does."""
    s3 = stack.client("s3")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])
    except s3.exceptions.ClientError:
        policy = {"Version": "2012-10-17", "Statement": []}
    policy["Statement"] += fault_statements(stack.bucket, stack.role_arn)
    s3.put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(policy))


# ------------------------------------------------------------------------------------------ request-path faults
def remove_api_permission(stack: MotoStack) -> None:
    """Someone removes the function's permission for the API: API Gateway answers 500 without invoking."""
    statement_id = api_permission(stack)["Sid"]
    stack.client("lambda").remove_permission(FunctionName=stack.function, StatementId=statement_id)


def permit_another_route(stack: MotoStack) -> None:
    """The permission is replaced by one for POST /random: GET /random is no longer covered."""
    remove_api_permission(stack)
    stack.client("lambda").add_permission(
        FunctionName=stack.function,
        StatementId="image-api-permission-post",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{stack.outputs['RestApiId']}/*/POST/random",
    )


def change_function_environment(stack: MotoStack, value: str | None = "/elsewhere/bucket-name") -> None:
    """BUCKET_NAME_PARAMETER points elsewhere (or is removed when `value` is None); the rest stays as deployed."""
    variables = function_environment(stack, stack.function)
    variables.pop("BUCKET_NAME_PARAMETER")
    variables |= {"BUCKET_NAME_PARAMETER": value} if value else {}
    stack.client("lambda").update_function_configuration(
        FunctionName=stack.function, Environment={"Variables": variables}
    )


def swap_function_role(stack: MotoStack) -> str:
    """The function is moved to another role (one without the image permissions); returns its ARN."""
    other = stack.client("iam").create_role(
        RoleName=f"{stack.prefix}-other-role", AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST)
    )["Role"]["Arn"]
    stack.client("lambda").update_function_configuration(FunctionName=stack.function, Role=other)
    return other


def throttle_api(stack: MotoStack, rate: str = "0", burst: str = "0") -> None:
    """Stage-wide throttling lowered so far that every request gets 429."""
    stack.client("apigateway").update_stage(
        restApiId=stack.outputs["RestApiId"],
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": rate},
            {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": burst},
        ],
    )


def deny_role_with_managed_policy(stack: MotoStack) -> str:
    """A customer-managed policy with an explicit Deny on s3:GetObject is attached to the role."""
    arn = stack.client("iam").create_policy(
        PolicyName=f"{stack.prefix}-deny-images",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Sid": "NoImages", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    stack.client("iam").attach_role_policy(RoleName=stack.role_name, PolicyArn=arn)
    return arn


def bound_role_to_logs(stack: MotoStack) -> str:
    """A permissions boundary that allows only CloudWatch Logs: S3 and SSM calls are refused."""
    arn = stack.client("iam").create_policy(
        PolicyName=f"{stack.prefix}-logs-only-boundary",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    stack.client("iam").put_role_permissions_boundary(RoleName=stack.role_name, PermissionsBoundary=arn)
    return arn


def add_inapplicable_bucket_statements(stack: MotoStack) -> None:
    """Statements that must not count against the image role: a Deny for another principal, and a Deny
    for connections older than TLS 1.2 (next to the stack's aws:SecureTransport=false one)."""
    s3 = stack.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])
    policy["Statement"] += [
        {
            "Sid": "DenyOtherRole",
            "Effect": "Deny",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"},
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{stack.bucket}", f"arn:aws:s3:::{stack.bucket}/*"],
        },
        {
            **tls_only_statement(stack.bucket),
            "Sid": "DenyOldTls",
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
    s3.put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(policy))


def change_description_and_tags(stack: MotoStack) -> None:
    """Changes that cannot break a request: the function's description and a tag."""
    lam = stack.client("lambda")
    lam.update_function_configuration(FunctionName=stack.function, Description="image API (edited by hand)")
    arn = lam.get_function_configuration(FunctionName=stack.function)["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"Owner": "someone"})


def drop_tag(stack: MotoStack, key: str = "Stack") -> None:
    """The parameter loses one application tag (tagged by hand, or created outside the stack)."""
    stack.client("ssm").remove_tags_from_resource(ResourceType="Parameter", ResourceId=stack.parameter, TagKeys=[key])


# ------------------------------------------------------------------------------------------ symptoms
def write_error_lines(stack: MotoStack, code: str, operation: str, count: int = 3, **fields: str | None) -> None:
    """The image function's `aws call failed` lines as Lambda's JSON log format writes them."""
    logs = stack.client("logs")
    stream = "2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef"
    logs.create_log_stream(logGroupName=f"/aws/lambda/{stack.function}", logStreamName=stream)
    now = datetime.now(UTC) - timedelta(minutes=2)
    events = []
    for number in range(count):
        moment = now + timedelta(seconds=number)
        line = {
            "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            "level": "ERROR",
            "message": "aws call failed",
            "logger": "root",
            "requestId": f"7f6c2d3e-0000-4000-8000-00000000000{number}",
            "error_code": code,
            "operation": operation,
            "bucket": fields.get("bucket"),
            "parameter": fields.get("parameter", stack.parameter),
        }
        events.append({"timestamp": int(moment.timestamp() * 1000), "message": json.dumps(line)})
    logs.put_log_events(logGroupName=f"/aws/lambda/{stack.function}", logStreamName=stream, logEvents=events)


def write_api_datapoints(stack: MotoStack, *, count: float, e4xx: float = 0, e5xx: float = 0) -> None:
    """API Gateway's one-minute AWS/ApiGateway Count, 4XXError and 5XXError datapoints for the stage."""
    dims = [{"Name": "ApiName", "Value": stack.api_name}, {"Name": "Stage", "Value": "prod"}]
    moment = datetime.now(UTC) - timedelta(minutes=2)
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {"MetricName": name, "Dimensions": dims, "Timestamp": moment, "Value": value, "Unit": "Count"}
            for name, value in (("Count", count), ("4XXError", e4xx), ("5XXError", e5xx))
        ],
    )


def remove_role_permission(stack: MotoStack) -> None:
    """An operator "tightens" the role: its inline policy loses the statement that allows s3:GetObject."""
    iam = stack.client("iam")
    for name in iam.list_role_policies(RoleName=stack.role_name)["PolicyNames"]:
        policy = iam.get_role_policy(RoleName=stack.role_name, PolicyName=name)["PolicyDocument"]
        kept = [s for s in policy["Statement"] if "s3:GetObject" not in json.dumps(s.get("Action"))]
        if kept != policy["Statement"]:
            policy["Statement"] = kept
            iam.put_role_policy(RoleName=stack.role_name, PolicyName=name, PolicyDocument=json.dumps(policy))
            return
    raise AssertionError(f"no inline policy of {stack.role_name} allows s3:GetObject")


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
