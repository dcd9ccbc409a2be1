"""Game-day test helpers: the drill-support resources added to a moto stack, the stack's state field by
field, an in-process Drill on moto, a stand-in API that answers 200, and `python -m drill` run from
another working directory with another HOME."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from conftest import ACCOUNT, REGION, ROOT, new_session
from drill_fixtures import (
    MotoStack,
    build_stack,
    cli_env,
    inject_fault_like_the_fault_function,
    moto_server,  # noqa: F401  (fixture)
)
from fis_fixtures import FisStandIn, add_fis

from drill import outputs as gameday_outputs
from drill.aws import Clients
from drill.errors import DrillError
from drill.stack import StackOutputs
from drill.steps import Drill, Probe
from drill.steps.model import Timeline

NO_RETRIES = Config(retries={"max_attempts": 1})
FAST = {"timeout": 2, "interval": 0.05}  # inject/restore timings for moto, where nothing is eventually consistent
SERVICES = (
    "s3",
    "ssm",
    "iam",
    "lambda",
    "cloudwatch",
    "logs",
    "apigateway",
    "dynamodb",
    "sts",
    "cloudtrail",
    "resourcegroupstaggingapi",
    "fis",
)


def add_drill_support(stack: MotoStack, endpoint: str) -> None:
    """The program's stack (replayed from the replica's plan) already holds what components/drill_support.py
    deploys, the record table and the standby role, with their outputs; the tests read the table too."""
    wanted = (gameday_outputs.RECORD_TABLE, gameday_outputs.STANDBY_ROLE)
    missing = [name for name in wanted if name not in stack.outputs]
    assert not missing, f"the program's stack lacks {missing}"
    stack.clients["dynamodb"] = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    # The FIS experiments of a stack deployed with fisEnabled=true (the replayed plan has fisEnabled=false).
    stack.clients["fis"] = boto3.client("fis", endpoint_url=endpoint, region_name=REGION)
    add_fis(stack.clients, stack.outputs, stack.prefix)


def gameday_stack(endpoint: str, prefix: str, *, fault_chain: bool = True) -> MotoStack:
    # No TLS-only statement: moto ignores its condition, and the seed's restore must keep whatever is there
    # (a statement of someone else's stands in for it below).
    stack = build_stack(endpoint, prefix, fault_chain=fault_chain, tls_only_policy=False)
    add_drill_support(stack, endpoint)
    others = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SomeoneElses",
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/someone-else"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{stack.bucket}/*",
            }
        ],
    }
    stack.client("s3").put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(others))
    stack.client("ssm").add_tags_to_resource(
        ResourceType="Parameter", ResourceId=stack.parameter, Tags=[{"Key": "Owner", "Value": "gameday"}]
    )
    return stack


def _maybe(call: Callable[[], Any], missing: str) -> Any:
    try:
        return call()
    except Exception as err:  # noqa: BLE001 (the absent resource is the state)
        if missing in str(err):
            return None
        raise


def snapshot(stack: MotoStack) -> dict[str, Any]:
    """Everything issue 19's "exactly as before" lists, read field by field."""
    s3, ssm, iam, lam = stack.client("s3"), stack.client("ssm"), stack.client("iam"), stack.client("lambda")
    cloudwatch, apigateway = stack.client("cloudwatch"), stack.client("apigateway")
    policy = _maybe(lambda: json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"]), "NoSuchBucketPolicy")
    objects = [(o["Key"], o["ETag"], o["Size"]) for o in s3.list_objects_v2(Bucket=stack.bucket).get("Contents", [])]
    parameter = _maybe(lambda: ssm.get_parameter(Name=stack.parameter)["Parameter"], "ParameterNotFound")
    described = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [stack.parameter]}])["Parameters"]
    tags = _maybe(
        lambda: ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=stack.parameter)["TagList"],
        "InvalidResourceId",
    )
    role = stack.role_name
    inline = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    config = lam.get_function_configuration(FunctionName=stack.function)
    function_policy = _maybe(lambda: json.loads(lam.get_policy(FunctionName=stack.function)["Policy"]), "Resource")
    alarms = cloudwatch.describe_alarms(AlarmNamePrefix=stack.prefix)["MetricAlarms"]
    return {
        "bucket_policy": policy,
        "objects": objects,
        "parameter": parameter and {k: parameter[k] for k in ("Value", "Type", "DataType")},
        "parameter_details": [{k: p.get(k) for k in ("Description", "Tier", "Type")} for p in described],
        "parameter_tags": sorted((t["Key"], t["Value"]) for t in tags or []),
        "role_inline": inline,
        "role_attached": iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"],
        "role_boundary": iam.get_role(RoleName=role)["Role"].get("PermissionsBoundary"),
        "function": {k: config.get(k) for k in ("Role", "Environment", "Timeout", "MemorySize", "Layers")},
        "concurrency": lam.get_function_concurrency(FunctionName=stack.function).get("ReservedConcurrentExecutions"),
        "function_policy": function_policy and sorted(function_policy["Statement"], key=lambda s: s["Sid"]),
        "method_settings": apigateway.get_stage(restApiId=stack.outputs["RestApiId"], stageName="prod").get(
            "methodSettings"
        ),
        "alarms": {a["AlarmName"]: (a["ActionsEnabled"], a.get("AlarmActions")) for a in alarms},
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(stack.prefix)),
        "policies": sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "records": stack.client("dynamodb").scan(TableName=stack.outputs[gameday_outputs.RECORD_TABLE])["Items"],
    }


def differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


class AlarmActionStandIn:
    """The stand-in for CloudWatch running the invocations alarm's action (moto never does): the first wait
    of the seed's inject adds the fault's statements, as the fault function would."""

    def __init__(self, stack: MotoStack) -> None:
        self.stack = stack
        self.sleeps = 0

    def __call__(self, _seconds: float) -> None:
        self.sleeps += 1
        alarm = self.stack.outputs.get("CloudWatchAlarmName")
        if alarm and self.sleeps == 1:
            state = self.stack.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
            if state["StateValue"] == "ALARM" and state["ActionsEnabled"]:
                inject_fault_like_the_fault_function(self.stack)


def no_lambda_runtime(function: str, _event: dict[str, Any]) -> Any:
    raise DrillError(f"{function}: moto cannot run Lambda code")


_CLIENTS: dict[str, Clients] = {}  # endpoint -> the drill's clients (making them is the slow part)


def drill_clients(endpoint: str, hook: Callable[[Any], None] | None = None) -> Clients:
    """The drill's clients on moto; shared per endpoint unless a `hook` is put on each (then fresh ones)."""
    if hook is None and endpoint in _CLIENTS:
        return _CLIENTS[endpoint]
    session = new_session()
    clients = Clients(session)
    for service in SERVICES:
        client = session.client(
            service,
            endpoint_url=endpoint,
            aws_access_key_id="testing",  # noqa: S106 (moto's keys)
            aws_secret_access_key="testing",  # noqa: S106
            config=NO_RETRIES,  # moto answers unimplemented calls with HTTP 500, which boto3 would retry
        )
        if hook:
            hook(client)
        clients.use(service, client)
    if hook is None:
        _CLIENTS[endpoint] = clients
    return clients


def make_drill(stack: MotoStack, endpoint: str, *, hook: Callable[[Any], None] | None = None) -> Drill:
    """The drill's own code on moto, in this process: clients on the endpoint, the API always 200."""
    drill = Drill(
        outputs=StackOutputs(values=dict(stack.outputs), origin="the test stack"),
        clients=drill_clients(endpoint, hook),
        account=ACCOUNT,
        region=REGION,
        api_probe=lambda: Probe(200, 1.0),
        function_caller=no_lambda_runtime,
        # FIS's part (tests/fis_fixtures.py) only moves experiments a test holds with frozen_experiments().
        sleep=FisStandIn(
            stack.client("s3"),
            stack.outputs[gameday_outputs.FIS_CONFIGURATION_LOCATION],
            then=AlarmActionStandIn(stack),
        ),
    )
    Timeline(drill)
    return drill


@contextmanager
def api_answering_200() -> Iterator[str]:
    """GET anything -> 200: the restore's wait for the API is not what these tests check."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/prod/random"
    finally:
        server.shutdown()


def drill_elsewhere(
    args: list[str], endpoint: str, folder: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen:
    """`python -m drill ARGS` with `folder/work` as working directory and `folder/home` as HOME."""
    work, home = folder / "work", folder / "home"
    work.mkdir(parents=True, exist_ok=True)
    home.mkdir(parents=True, exist_ok=True)
    env = {**cli_env(endpoint), "HOME": str(home), "PYTHONPATH": str(ROOT), **(extra_env or {})}
    return subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "drill", *args],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_paused(process: subprocess.Popen, point: str) -> None:
    """SIGKILL a drill started with `PAUSE_VARIABLE=point` as soon as it says it paused there (drill/scenarios/
    model.py checkpoint), never on a timer; its output so far is the failure message if it never pauses."""
    seen = []
    for line in process.stderr:
        seen.append(line)
        if f"paused at {point}" in line:
            process.send_signal(signal.SIGKILL)
            break
    assert process.wait(timeout=60) == -signal.SIGKILL, "".join(seen)
    process.stdout.close()
    process.stderr.close()


@pytest.fixture(autouse=True)
def fresh(moto_server, monkeypatch):  # noqa: F811
    """The module's moto server, reset before each test; any client the drill makes by itself (a collector's
    service) goes to moto too, never to AWS. Yields the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()  # noqa: S310
    return moto_server
