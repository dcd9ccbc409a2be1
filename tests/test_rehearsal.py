"""`python -m drill rehearse`: the whole incident story offline, and the stand-ins it is built from.

The story test runs the command as a user would (a subprocess, no AWS_* variable at all) and checks what
it printed; the smaller tests pin the alarm evaluator's decisions, the OpenAPI-body replay behind the
local API, and the environment isolation that keeps the rehearsal away from real AWS.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import rehearsal_run
from conftest import ACCOUNT, REGION, ROOT, shared_session

from drill.rehearsal import alarms
from drill.rehearsal.aws_context import SERVICES, Aws
from drill.rehearsal.local_api import LocalApi
from drill.rehearsal.moto_server import isolated_environment
from drill.rehearsal.provision_api import rest_api

STORY_TIMEOUT_SECONDS = 120


# ------------------------------------------------------------------------------------------ the story
# The whole rehearsal, run as a subprocess: end to end (marker e2e, the `.ci/run` step of its own).
@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory) -> dict:
    """What `python -m drill rehearse --json` printed, run as a person without AWS would run it, plus
    `process_group`: the session it ran in (see tests/rehearsal_run.py).

    conftest.py started it in the background when the session began; a run of this file with a filter
    conftest could not foresee starts it here."""
    folder = os.environ.get(rehearsal_run.FOLDER_VARIABLE)
    if folder is None:
        folder = tmp_path_factory.mktemp("rehearsal")
        process = rehearsal_run.start(folder)
    else:
        process = None
    try:
        code, stdout, stderr, group = rehearsal_run.result(Path(folder), STORY_TIMEOUT_SECONDS)
    finally:
        if process is not None:
            rehearsal_run.stop(process, Path(folder))
    assert code == 0, f"exit {code}\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return json.loads(stdout) | {"process_group": group}


@pytest.mark.e2e
def test_rehearse_runs_the_drills_steps_and_every_one_succeeds(rehearsal):
    assert rehearsal["ok"] is True
    assert [s["step"] for s in rehearsal["steps"]] == ["status", "trigger", "investigate", "restore", "status"]
    assert all(s["ok"] for s in rehearsal["steps"])


@pytest.mark.e2e
def test_the_api_answers_200_then_5xx_then_200(rehearsal):
    statuses = rehearsal["rehearsal"]["api"]["statuses"]
    first_failure = next(i for i, status in enumerate(statuses) if status >= 500)
    assert statuses[0] == 200 and 200 in statuses[:first_failure]
    assert statuses[-1] == 200 and 200 in statuses[first_failure:]
    start, trigger, _, restore, end = rehearsal["steps"]
    assert start["api"]["status"] == 200 and trigger["api_failed"] is True
    assert restore["api_status"] == 200 and end["api"]["status"] == 200 and end["fault_present"] is False


@pytest.mark.e2e
def test_restore_rearms_the_alarm_once_its_compressed_periods_are_evaluated(rehearsal):
    """The re-arm rule reads the evaluator's compressed periods: the story ends armed, not left disarmed."""
    restore, end = rehearsal["steps"][3], rehearsal["steps"][4]
    assert restore["path"] == "function" and restore["armed"] is True
    assert end["fault_armed"] is True


@pytest.mark.e2e
def test_the_alarm_ran_the_fault_function_and_the_investigator_names_the_policy(rehearsal):
    trigger, investigate = rehearsal["steps"][1], rehearsal["steps"][2]
    assert trigger["fault_sids"] == ["AiopsFaultInjectionDenyListBucket", "AiopsFaultInjectionDenyGetObject"]
    assert investigate["root_cause"]["kind"] == "bucket_policy_deny"
    fired = [t for t in rehearsal["rehearsal"]["alarm_transitions"] if t["alarm"].endswith("-lambda-trigger-alarm")]
    assert fired and fired[0]["new"] == "ALARM"
    assert any("fault-injector" in action and '"inject"' in action for action in fired[0]["actions"])


@pytest.mark.e2e
def test_the_notes_list_what_was_skipped_and_what_moto_cannot_show(rehearsal):
    notes = rehearsal["rehearsal"]
    skipped = {s["type"] for s in notes["skipped"]}
    assert "aws-native:aiops:InvestigationGroup" in skipped
    assert all(s["reason"] for s in notes["skipped"])
    assert notes["seed"]["status"] == "fallback" and notes["seed"]["sampleKeys"]
    assert notes["time_compression"]["alarm_minute_seconds"] < 60
    caveats = " ".join(notes["caveats"])
    assert "Principal" in caveats and "DenyInsecureTransport" in caveats and "Bedrock" in caveats
    assert notes["api"]["stands_in_for"].startswith("https://") and notes["api"]["url"].startswith("http://127.0.0.1:")
    assert not any(t.startswith("pulumi:providers:") for t in skipped)  # their settings are applied, not skipped
    assert {p["name"]: set(p["default_tags"]) for p in notes["providers"]} == {
        "aws": {"Application", "Stack", "NamePrefix"},
        "aws-native": {"Application", "Stack", "NamePrefix"},
    }


@pytest.mark.e2e
def test_the_report_states_the_stacks_tags_and_throttling_and_counts_what_came_before_it(rehearsal):
    """What the investigator read in moto is what the program declared, and its window holds every request
    and invocation made before it, on whole-minute periods."""
    investigate = rehearsal["steps"][2]
    assert investigate["tags"] and all(t["missing"] == [] for t in investigate["tags"]), investigate["tags"]
    details = [e["detail"] for e in investigate["evidence"]]
    assert any("GET /random throttled at rate 100/s (*/*) and burst 50 (*/*)" in d for d in details), details

    def total(label: str) -> int:
        return int(next(re.search(rf"{label}: (\d+) in the window", d).group(1) for d in details if f"{label}:" in d))

    assert total("5XX") >= 1  # the trigger's last probe answered 5XX just before the investigation
    assert total("invocations") == total("requests") + rehearsal["steps"][1]["invocations"]  # the API's + direct
    firsts = re.findall(r"first at \d{4}-\d\d-\d\dT\d\d:\d\d:(\d\d)Z", " ".join(details))
    assert firsts and set(firsts) == {"00"}  # one-minute datapoints are stamped on the minute


def assert_closed(port: int) -> None:
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(1)
        sock.connect(("127.0.0.1", port))


@pytest.mark.e2e
def test_nothing_is_left_behind(rehearsal):
    """No process of the rehearsal's own session is left (a child it started would still be in it), and
    neither of its ports answers."""
    with pytest.raises(ProcessLookupError):
        os.killpg(rehearsal["process_group"], 0)
    notes = rehearsal["rehearsal"]
    for port in (notes["moto"]["port"], notes["api"]["port"]):
        assert_closed(port)


@pytest.mark.e2e
def test_a_rehearsal_stopped_by_ctrl_c_stops_everything_it_started_and_exits_130():
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module, fixed arguments)
        [sys.executable, "-m", "drill", "rehearse"],
        cwd=ROOT,
        env=rehearsal_run.user_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        first = process.stderr.readline()  # "rehearse: +0.1s moto on http://127.0.0.1:PORT; provisioning ..."
        port = int(re.search(r"moto on http://127\.0\.0\.1:(\d+)", first).group(1))
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends (SIGTERM takes the same path)
        rest = process.communicate(timeout=30)[1]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, first + rest
    assert "interrupted" in rest
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)
    assert_closed(port)


# ------------------------------------------------------------------------------------------ alarm logic
def alarm(**overrides) -> dict:
    return {
        "AlarmName": "a",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 3.0,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "StateValue": "OK",
    } | overrides


@pytest.mark.parametrize(
    ("overrides", "values", "state"),
    [
        ({}, [3.0], "ALARM"),
        ({}, [2.0], "OK"),
        ({"ComparisonOperator": "GreaterThanThreshold"}, [3.0], "OK"),
        ({"ComparisonOperator": "GreaterThanThreshold"}, [3.5], "ALARM"),
        ({"ComparisonOperator": "LessThanThreshold", "Threshold": 1.0}, [0.0], "ALARM"),
        ({"ComparisonOperator": "LessThanOrEqualToThreshold", "Threshold": 1.0}, [1.5], "OK"),
        ({}, [None], "OK"),  # notBreaching: no traffic is not an incident
        ({"TreatMissingData": "breaching"}, [None], "ALARM"),
        ({"TreatMissingData": "missing"}, [None], "INSUFFICIENT_DATA"),
        ({"TreatMissingData": "ignore", "StateValue": "ALARM"}, [None], "ALARM"),
        ({"EvaluationPeriods": 3, "DatapointsToAlarm": 2}, [5.0, None, 5.0], "ALARM"),
        ({"EvaluationPeriods": 3, "DatapointsToAlarm": 2}, [5.0, 1.0, 1.0], "OK"),
        ({"EvaluationPeriods": 2}, [5.0, 1.0], "OK"),  # without DatapointsToAlarm every period must breach
    ],
)
def test_next_state_compares_the_statistic_with_the_threshold(overrides, values, state):
    decided, reason = alarms.next_state(alarm(**overrides), values)
    assert decided == state, reason


def test_the_statistic_is_read_from_the_datapoint_of_the_alarms_statistic():
    point = {"Sum": 4.0, "Average": 1.0, "SampleCount": 4.0}
    assert alarms.statistic_value(point, "Sum") == 4.0
    assert alarms.statistic_value(point, "Average") == 1.0
    assert alarms.statistic_value(point, "Maximum") is None
    assert alarms.statistic_value(None, "Sum") is None


def test_the_alarm_event_carries_a_current_millisecond_timestamp_and_the_alarm_arn():
    now = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC)
    described = alarm(AlarmArn=f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a", StateUpdatedTimestamp=now)
    event = alarms.alarm_event(described, "ALARM", "because", now, ACCOUNT, REGION)
    assert event["source"] == "aws.cloudwatch" and event["alarmArn"] == described["AlarmArn"]
    assert event["alarmData"]["state"] == {
        "value": "ALARM",
        "reason": "because",
        "timestamp": "2026-11-25T10:00:00.123+0000",
    }
    parsed = datetime.strptime(event["alarmData"]["state"]["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert parsed == now - timedelta(microseconds=456)


class RecordingRuntime:
    def __init__(self, answer=None) -> None:
        self.functions: dict = {}  # none registered: the local API's gateway checks have no function to read
        self.calls: list[tuple[str, dict]] = []
        self.answer = answer or {"action": "inject"}

    def invoke(self, name: str, event: dict):
        self.calls.append((name, event))
        return self.answer

    def take_added_milliseconds(self) -> float:
        return 0.0  # no FIS stand-in here: nothing reported beyond what was measured


@pytest.fixture(scope="module")
def module_clients() -> dict:
    """One client per service the rehearsal uses, made once for the module from the shared session."""
    return {service: shared_session().client(service) for service in SERVICES}


@pytest.fixture
def moto(aws_mock, module_clients) -> dict:
    """An empty moto (conftest `aws_mock`) and the module's clients."""
    return module_clients


def moto_aws(clients: dict, runtime) -> Aws:
    return Aws(clients=clients, region=REGION, account=ACCOUNT, runtime=runtime, root=ROOT)


@pytest.mark.parametrize(
    ("permitted", "enabled", "runs"), [(True, True, True), (False, True, False), (True, False, False)]
)
def test_the_evaluator_runs_a_lambda_action_once_when_permitted_and_enabled(moto, permitted, enabled, runs):
    runtime = RecordingRuntime()
    aws = moto_aws(moto, runtime)
    cloudwatch, lambda_ = aws.client("cloudwatch"), aws.client("lambda")
    role = aws.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    function = lambda_.create_function(
        FunctionName="fault", Runtime="python3.13", Role=role, Handler="handler.handler", Code={"ZipFile": b"PK"}
    )["FunctionArn"]
    dimensions = [{"Name": "FunctionName", "Value": "image"}]
    cloudwatch.put_metric_alarm(
        AlarmName="trigger", Namespace="AWS/Lambda", MetricName="Invocations", Statistic="Sum", Dimensions=dimensions,
        Period=60, EvaluationPeriods=1, Threshold=3, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", AlarmActions=[function], ActionsEnabled=enabled,
    )  # fmt: skip
    arn = cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]["AlarmArn"]
    if permitted:
        lambda_.add_permission(
            FunctionName="fault", StatementId="alarm", Action="lambda:InvokeFunction",
            Principal=alarms.ALARM_PRINCIPAL, SourceArn=arn, SourceAccount=ACCOUNT,
        )  # fmt: skip
    # One second into a 5-second (compressed) period, whatever the wall clock says: periods are aligned.
    stamp = datetime.now(UTC).timestamp()
    now = datetime.fromtimestamp(stamp - stamp % 5 + 1, UTC)
    evaluator = alarms.AlarmEvaluator(
        alarm_names=["trigger"], clients=aws.clients, runtime=runtime, account=ACCOUNT, region=REGION,
        minute=5, tick=1, wall=lambda: now,
    )  # fmt: skip
    datum = {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": 1, "Unit": "Count"}
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[datum, datum])
    evaluator.evaluate_all()
    assert cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]["StateValue"] == "OK"
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[datum])
    evaluator.evaluate_all()
    evaluator.evaluate_all()  # still ALARM: no second action
    assert cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]["StateValue"] == "ALARM"
    assert [name for name, _ in runtime.calls] == (["fault"] if runs else [])
    if runs:
        assert runtime.calls[0][1]["alarmArn"] == arn
        assert runtime.calls[0][1]["alarmData"]["state"]["value"] == "ALARM"


# ------------------------------------------------------------------------------------------ REST API from a body
def openapi_document(function_arn: str) -> dict:
    """GET /random as AWS_PROXY and OPTIONS /random as MOCK with CORS headers, as issue 9's body declares."""
    cors = {"Access-Control-Allow-Origin": "'*'", "Access-Control-Allow-Methods": "'GET,OPTIONS'"}
    uri = f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    return {
        "openapi": "3.0.1",
        "info": {"title": "aiops-demo-dev-api", "version": "1"},
        "x-amazon-apigateway-binary-media-types": ["*/*"],
        "paths": {
            "/random": {
                "get": {
                    "responses": {"200": {"description": "an image"}},
                    "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "uri": uri},
                },
                "options": {
                    "responses": {"200": {"description": "CORS", "headers": {h: {"schema": {}} for h in cors}}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseParameters": {f"method.response.header.{h}": v for h, v in cors.items()},
                            }
                        },
                    },
                },
            }
        },
    }


def test_a_rest_api_body_is_replayed_into_moto_and_served_by_the_local_api(moto):
    image = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "iVBORw==", "isBase64Encoded": True}
    runtime = RecordingRuntime(image)
    aws = moto_aws(moto, runtime)
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:aiops-demo-dev-image-api"
    api_id, outputs = rest_api(aws, "images-api", {"body": json.dumps(openapi_document(function_arn))})
    assert outputs["name"] == "aiops-demo-dev-api" and outputs["rootResourceId"]
    client = aws.client("apigateway")
    client.create_deployment(restApiId=api_id, stageName="prod")
    api = LocalApi(api_id=api_id, stage="prod", clients=aws.clients, runtime=runtime)
    api.start()
    try:
        with urllib.request.urlopen(api.url("/random"), timeout=10) as response:  # noqa: S310 (local URL)
            assert (response.status, response.read()) == (200, b"\x89PNG")
        options = urllib.request.Request(api.url("/random"), method="OPTIONS")  # noqa: S310 (local URL)
        with urllib.request.urlopen(options, timeout=10) as response:  # noqa: S310 (local URL)
            assert response.headers["Access-Control-Allow-Origin"] == "*"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(api.url("/other"), timeout=10)  # noqa: S310 (local URL)
        assert missing.value.code == 403
    finally:
        api.stop()
    assert [name for name, _ in runtime.calls] == ["aiops-demo-dev-image-api"]
    assert runtime.calls[0][1]["httpMethod"] == "GET" and runtime.calls[0][1]["requestContext"]["stage"] == "prod"
    assert api.statuses == [200, 200, 403]
    counted = aws.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/ApiGateway", MetricName="4XXError", Statistics=["Sum"], Period=60,
        Dimensions=[{"Name": "ApiName", "Value": "aiops-demo-dev-api"}, {"Name": "Stage", "Value": "prod"}],
        StartTime=datetime.now(UTC) - timedelta(minutes=5), EndTime=datetime.now(UTC) + timedelta(minutes=1),
    )["Datapoints"]  # fmt: skip
    assert sum(p["Sum"] for p in counted) == 1


# ------------------------------------------------------------------------------------------ isolation
def test_the_rehearsal_environment_drops_every_aws_variable_and_puts_them_back(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.amazonaws.com")
    with isolated_environment({"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}):
        assert {k: v for k, v in os.environ.items() if k.startswith("AWS_")} == {
            "AWS_ENDPOINT_URL": "http://127.0.0.1:1"
        }
    assert os.environ["AWS_PROFILE"] == "production" and os.environ["AWS_ENDPOINT_URL_S3"] == "https://s3.amazonaws.com"


def test_the_stack_configuration_is_the_projects_defaults_overlaid_with_the_stack_file(tmp_path):
    from drill.errors import UsageError
    from drill.rehearsal.stack_config import load_stack_config

    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nconfig:\n  armed:\n    type: boolean\n    default: true\n  count:\n    type: integer\n"
        "    default: 5\n"
    )
    (tmp_path / "Pulumi.dev.yaml").write_text("config:\n  aws:region: eu-west-1\n  demo:count: 7\n  armed: false\n")
    config = load_stack_config(tmp_path, "dev")
    assert config.values == {"demo:armed": "false", "demo:count": "7", "aws:region": "eu-west-1"}
    assert config.region == "eu-west-1"
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  demo:token:\n    secure: AAAB\n")
    with pytest.raises(UsageError, match="demo:token"):
        load_stack_config(tmp_path, "prod")
    with pytest.raises(UsageError, match="Pulumi.qa.yaml"):
        load_stack_config(tmp_path, "qa")


# ------------------------------------------------------------------------------------------ Lambda runtime
HANDLER = """
import logging, os
import helper  # a sibling module: the function's own folder comes first on sys.path

logger = logging.getLogger()
logger.setLevel("INFO")
GREETING = os.environ["GREETING"]  # read at import, as handlers do
LOADS = []


def handler(event, context):
    LOADS.append(event)
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    logger.info("greeted", extra={"who": event["who"], "function": os.environ["AWS_LAMBDA_FUNCTION_NAME"]})
    left = context.get_remaining_time_in_millis()
    return {"text": helper.greet(GREETING, event["who"]), "calls": len(LOADS), "left": left}
"""


def test_the_runtime_runs_handlers_as_lambda_does(moto, tmp_path):
    from drill.rehearsal.runtime import FunctionSpec, LambdaRuntime

    (tmp_path / "handler.py").write_text(HANDLER)
    (tmp_path / "helper.py").write_text("def greet(greeting, who):\n    return f'{greeting}, {who}'\n")
    clients = moto
    role = clients["iam"].create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    clients["logs"].create_log_group(logGroupName="/aws/lambda/fn")
    runtime = LambdaRuntime(base_environment={"AWS_ENDPOINT_URL": "http://unused"}, region=REGION, clients=clients)
    spec = FunctionSpec(
        name="fn", arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", code_dir=tmp_path, handler="handler.handler",
        role_arn=role, log_group="/aws/lambda/fn", environment={"GREETING": "hello"}, timeout=30,
    )  # fmt: skip
    runtime.register(spec)
    runtime.start()
    try:
        assert runtime.invoke("fn", {"who": "a"})["text"] == "hello, a"
        warm = runtime.invoke("fn", {"who": "b"})
        failed = runtime.invoke("fn", {"fail": True})
        runtime.register(FunctionSpec(**{**vars(spec), "environment": {"GREETING": "hi"}}))  # a new definition
        cold = runtime.invoke("fn", {"who": "c"})
    finally:
        runtime.stop()
    assert warm["calls"] == 2 and 0 < warm["left"] <= 30_000  # the same module while warm
    assert failed["errorType"] == "RuntimeError" and failed["errorMessage"] == "asked to fail"
    assert cold == {"text": "hi, c", "calls": 1, "left": cold["left"]}  # a fresh module after the change
    assert "handler" not in sys.modules and "helper" not in sys.modules  # nothing leaks into the process
    assert "GREETING" not in os.environ
    lines = [
        json.loads(e["message"]) for e in clients["logs"].filter_log_events(logGroupName="/aws/lambda/fn")["events"]
    ]
    greeted = [line for line in lines if line["message"] == "greeted"]
    assert [line["who"] for line in greeted] == ["a", "b", "c"]
    assert greeted[0]["level"] == "INFO" and greeted[0]["logger"] == "root" and greeted[0]["function"] == "fn"
    assert greeted[0]["requestId"] != greeted[1]["requestId"] and greeted[0]["timestamp"].endswith("Z")
    assert any(line["level"] == "ERROR" and line.get("errorType") == "RuntimeError" for line in lines)

    def total(metric: str) -> float:
        points = clients["cloudwatch"].get_metric_statistics(
            Namespace="AWS/Lambda", MetricName=metric, Statistics=["Sum"], Period=60,
            Dimensions=[{"Name": "FunctionName", "Value": "fn"}],
            StartTime=datetime.now(UTC) - timedelta(minutes=5), EndTime=datetime.now(UTC) + timedelta(minutes=1),
        )["Datapoints"]  # fmt: skip
        return sum(p["Sum"] for p in points)

    assert (total("Invocations"), total("Errors")) == (4, 1)


# ------------------------------------------------------------------------------------------ what the program declares
DEFAULT_TAGS = {"Application": "aiops-demo", "Stack": "dev"}


class RegisteringRuntime(RecordingRuntime):
    """What the function provisioner needs of the runtime: a place to register the function."""

    def register(self, spec) -> None:
        self.calls.append((spec.name, {}))


def with_a_method(client, api_id: str) -> str:
    """moto deploys only an API with an integrated method: GET / as a MOCK (the API's id, for create_deployment)."""
    root = next(r["id"] for r in client.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    client.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE")
    client.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    return api_id


def register_provider(mocks, region: str = REGION) -> str:
    """An aws provider as the engine hands it to the mocks (its default tags as JSON text); its reference."""
    import pulumi

    inputs = {"region": region, "defaultTags": json.dumps({"tags": DEFAULT_TAGS})}
    provider_id, _ = mocks.new_resource(
        pulumi.runtime.MockResourceArgs("pulumi:providers:aws", "aws", inputs, custom=True)
    )
    return f"urn:pulumi:dev::aiops-demo::pulumi:providers:aws::aws::{provider_id}"


def provision(mocks, provider: str | None, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
    import pulumi

    return mocks.new_resource(pulumi.runtime.MockResourceArgs(typ, name, inputs, provider=provider, custom=True))


def test_every_taggable_resource_carries_its_providers_default_tags_where_the_investigator_reads_them(
    moto, aws_mock, tmp_path
):
    """The replica merges the provider's default tags into each taggable resource (its own tags on top), and
    the investigator's tags collector, reading moto as it reads AWS, finds Application and Stack on all."""
    from drill.aws import Clients
    from drill.investigator.collectors import tags as tags_collector
    from drill.investigator.collectors._base import Scope
    from drill.investigator.model import Target, Window
    from drill.rehearsal.replica import PROVISIONERS, ProvisioningMocks, taggable

    aws = moto_aws(moto, RegisteringRuntime())
    mocks = ProvisioningMocks(aws)
    ref = register_provider(mocks)
    bucket, _ = provision(mocks, ref, "aws:s3/bucket:Bucket", "images", {"tags": {"Stack": "own", "Owner": "me"}})
    provision(mocks, ref, "aws:s3/bucketV2:BucketV2", "other", {})
    parameter, _ = provision(mocks, ref, "aws:ssm/parameter:Parameter", "p", {"name": "/demo/p", "value": "v"})
    role, role_out = provision(mocks, ref, "aws:iam/role:Role", "role", {"assumeRolePolicy": "{}"})
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    operator, _ = provision(
        mocks, ref, "aws:iam/policy:Policy", "operator", {"name": "demo-operator", "policy": document}
    )
    operator_tags = aws.client("iam").list_policy_tags(PolicyArn=operator)["Tags"]
    assert {tag["Key"] for tag in operator_tags} >= {"Application", "Stack"}
    table_inputs = {"name": "demo-records", "billingMode": "PAY_PER_REQUEST", "hashKey": "scenario"}
    table_inputs["attributes"] = [{"name": "scenario", "type": "S"}]
    _, table_out = provision(mocks, ref, "aws:dynamodb/table:Table", "records", table_inputs)
    table_tags = aws.client("dynamodb").list_tags_of_resource(ResourceArn=table_out["arn"])["Tags"]
    assert {tag["Key"] for tag in table_tags} >= {"Application", "Stack"}
    code = type("Archive", (), {"path": str(tmp_path)})()
    function_inputs = {"name": "demo-fn", "code": code, "role": role_out["arn"], "handler": "handler.handler"}
    function, _ = provision(mocks, ref, "aws:lambda/function:Function", "fn", function_inputs)
    log_group, _ = provision(mocks, ref, "aws:cloudwatch/logGroup:LogGroup", "logs", {"name": "/aws/lambda/demo-fn"})
    alarm_inputs = {
        "name": "demo-alarm", "namespace": "AWS/Lambda", "metricName": "Invocations", "statistic": "Sum",
        "period": 60, "evaluationPeriods": 1, "threshold": 3, "comparisonOperator": "GreaterThanOrEqualToThreshold",
    }  # fmt: skip
    alarm_name, _ = provision(mocks, ref, "aws:cloudwatch/metricAlarm:MetricAlarm", "alarm", alarm_inputs)
    api, _ = provision(mocks, ref, "aws:apigateway/restApi:RestApi", "api", {"name": "demo-api"})
    deployment = aws.client("apigateway").create_deployment(restApiId=with_a_method(aws.client("apigateway"), api))[
        "id"
    ]
    stage_inputs = {"restApi": api, "stageName": "prod", "deployment": deployment}
    provision(mocks, ref, "aws:apigateway/stage:Stage", "stage", stage_inputs)
    policy = {"bucket": bucket, "policy": json.dumps({"Version": "2012-10-17", "Statement": []})}
    _, policy_out = provision(mocks, ref, "aws:s3/bucketPolicy:BucketPolicy", "policy", policy)
    template_inputs = {"roleArn": role_out["arn"], "actions": [], "stopConditions": [{"source": "none"}]}
    template, _ = provision(mocks, ref, "aws:fis/experimentTemplate:ExperimentTemplate", "fis", template_inputs)

    # Every taggable type the replica provisions was made above, and only those got tags.
    made = {entry["type"] for entry in mocks.provisioned}
    assert {t for t in PROVISIONERS if taggable(t)} <= made
    assert "tagsAll" not in policy_out and not taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert aws.caveats == []  # every taggable provisioner applied its tags
    assert [p["tagged"] for p in mocks.providers.values()] == [12]  # every taggable resource above
    assert aws.client("fis").get_experiment_template(id=template)["experimentTemplate"]["tags"] == DEFAULT_TAGS

    target = Target(
        region=REGION, account=ACCOUNT, prefix="demo", bucket=bucket, function_name=function,
        parameter_name=parameter, role_arn=role_out["arn"], rest_api_id=api, alarms={"invocations": alarm_name},
    )  # fmt: skip
    now = datetime.now(UTC)
    scope = Scope(clients=Clients(aws_mock), target=target, window=Window.last(5, now))
    found = {e.facts["kind"]: e.facts for e in tags_collector.collect(scope)}
    assert set(found) == {"bucket", "function", "parameter", "alarm", "api", "role"}
    assert all(facts["missing"] == [] for facts in found.values()), found
    assert found["bucket"]["tags"] == {"Application": "aiops-demo", "Stack": "own", "Owner": "me"}  # own tags win
    assert found["function"]["tags"] == DEFAULT_TAGS
    logs_tags = aws.client("logs").list_tags_log_group(logGroupName=log_group)["tags"]
    stage_tags = aws.client("apigateway").get_stage(restApiId=api, stageName="prod")["tags"]
    assert logs_tags == DEFAULT_TAGS and stage_tags == DEFAULT_TAGS


def test_a_taggable_resource_whose_tags_moto_does_not_get_is_a_caveat_and_a_provider_elsewhere_too(moto, monkeypatch):
    from drill.rehearsal import replica

    aws = moto_aws(moto, RecordingRuntime())
    mocks = replica.ProvisioningMocks(aws)
    ref = register_provider(mocks, region="eu-west-1")
    monkeypatch.setitem(replica.PROVISIONERS, "aws:s3/bucket:Bucket", lambda aws, name, inputs: (name, {}))
    _, outputs = provision(mocks, ref, "aws:s3/bucket:Bucket", "images", {})
    assert outputs["tagsAll"] == DEFAULT_TAGS  # what the program reads back is what it declared
    assert any("aws:s3/bucket:Bucket images: its tags are not applied in moto" in c for c in aws.caveats)
    assert any("provider aws declares region eu-west-1" in c for c in aws.caveats)
    assert mocks.skipped == []  # a provider is applied, not skipped
    assert [p["tagged"] for p in mocks.providers.values()] == [0]  # not counted as tagged either


def test_the_stages_method_settings_reach_moto_as_declared_and_unenforced_throttling_is_a_caveat(moto):
    """The stack's throttling (rate 100/s, burst 50) is what the investigator reads, not moto's 1000/2000."""
    from drill.investigator.collectors.api_stage import effective_limits
    from drill.rehearsal.provision_api import method_settings

    aws = moto_aws(moto, RecordingRuntime())
    client = aws.client("apigateway")
    api = with_a_method(client, client.create_rest_api(name="demo-api")["id"])
    client.create_deployment(restApiId=api, stageName="prod")
    settings = {
        "metricsEnabled": True, "loggingLevel": "INFO", "dataTraceEnabled": False,
        "throttlingBurstLimit": 50, "throttlingRateLimit": 100.0,
    }  # fmt: skip
    method_settings(aws, "settings", {"restApi": api, "stageName": "prod", "methodPath": "*/*", "settings": settings})
    held = client.get_stage(restApiId=api, stageName="prod")["methodSettings"]
    assert effective_limits(held) == (100.0, 50, "*/*", "*/*")
    assert held["*/*"]["loggingLevel"] == "INFO" and held["*/*"]["metricsEnabled"] is True
    assert held["*/*"]["dataTraceEnabled"] is False
    assert any("rate 100/s, burst 50" in c and "does not enforce" in c for c in aws.caveats)


# ------------------------------------------------------------------------------------------ metrics and the report
def test_invocations_put_before_an_investigation_reach_its_window_on_whole_minutes(moto, aws_mock, tmp_path):
    """An invocation half a second into a second, the investigation a tenth of a second later: its window
    counts it (moto alone drops EndTime's fraction of a second), and the period it is counted in starts on
    the minute, as CloudWatch's do (moto alone starts periods at the window's seconds)."""
    from drill.aws import Clients
    from drill.investigator.collectors import metrics
    from drill.investigator.collectors._base import Scope
    from drill.investigator.model import Target, Window, iso
    from drill.rehearsal.moto_server import cloudwatch_metric_windows
    from drill.rehearsal.runtime import FunctionSpec, LambdaRuntime

    (tmp_path / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    at = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=20, microsecond=500_000)
    clients = moto
    role = clients["iam"].create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    clients["logs"].create_log_group(logGroupName="/aws/lambda/fn")
    runtime = LambdaRuntime(base_environment={}, region=REGION, clients=clients, wall=lambda: at)
    runtime.register(
        FunctionSpec(
            name="fn",
            arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn",
            code_dir=tmp_path,
            handler="handler.handler",
            role_arn=role,
            log_group="/aws/lambda/fn",
        )  # fmt: skip
    )
    runtime.start()
    try:
        runtime.invoke("fn", {})
        runtime.invoke("fn", {})
    finally:
        runtime.stop()
    target = Target(region=REGION, account=ACCOUNT, prefix="demo", bucket="b", function_name="fn", parameter_name="/p")
    window = Window.last(30, at + timedelta(milliseconds=100))
    with cloudwatch_metric_windows():
        found = metrics.collect(Scope(clients=Clients(aws_mock), target=target, window=window))
    invocations = next(e.facts for e in found if e.facts["metric"] == "fn_invocations")
    assert invocations["sum"] == 2
    assert invocations["first"] == iso(at.replace(second=0))


def test_the_alarms_reason_says_its_period_was_compressed(moto):
    """The reason is the alarm evidence in the report: the caveat stands beside the datapoint."""
    aws = moto_aws(moto, RecordingRuntime())
    cloudwatch = aws.client("cloudwatch")
    dimensions = [{"Name": "FunctionName", "Value": "image"}]
    cloudwatch.put_metric_alarm(
        AlarmName="trigger", Namespace="AWS/Lambda", MetricName="Invocations", Statistic="Sum", Dimensions=dimensions,
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )  # fmt: skip
    stamp = datetime.now(UTC).timestamp()
    now = datetime.fromtimestamp(stamp - stamp % 2 + 1, UTC)
    datum = {"MetricName": "Invocations", "Dimensions": dimensions, "Timestamp": now, "Value": 1, "Unit": "Count"}
    cloudwatch.put_metric_data(Namespace="AWS/Lambda", MetricData=[datum])
    evaluator = alarms.AlarmEvaluator(
        alarm_names=["trigger"], clients=aws.clients, runtime=aws.runtime, account=ACCOUNT, region=REGION,
        minute=2, tick=1, wall=lambda: now,
    )  # fmt: skip
    evaluator.evaluate_all()
    described = cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"].startswith("Threshold Crossed: 1 of the last 1 datapoints [1]")
    assert described["StateReason"].endswith("(rehearsal: each 60 s period lasts 2 s of wall time)")


def test_the_notes_name_the_providers_settings_and_explain_why_the_counts_differ():
    from drill.rehearsal.notes import Notes

    provider = {
        "type": "pulumi:providers:aws", "name": "aws", "region": REGION, "default_tags": DEFAULT_TAGS, "tagged": 12,
    }  # fmt: skip
    native = {**provider, "type": "pulumi:providers:aws-native", "name": "aws-native", "tagged": 0}
    notes = Notes(
        stack="dev", moto_endpoint="http://127.0.0.1:1", moto_port=1, minute_seconds=2, tick_seconds=0.5,
        window_minutes=30, providers=[provider, native],
        transitions=[{"seconds": 2.4, "alarm": "a", "old": "OK", "new": "ALARM", "actions": []}],
    )  # fmt: skip
    lines = notes.lines()
    timed = lines.index("alarm      +2.4s a: OK -> ALARM")
    assert lines[timed - 1].startswith("alarms     each change below is timed from the start of the alarm evaluator")
    assert (
        f"provider   aws (region {REGION}): default tags Application=aiops-demo, Stack=dev, merged into the 12 "
        "taggable resources it manages here"
    ) in lines
    assert (
        f"provider   aws-native (region {REGION}): default tags Application=aiops-demo, Stack=dev, "
        "no taggable resource it manages is provisioned here"
    ) in lines
    metrics_line = next(line for line in lines if line.startswith("metrics    "))
    assert "sums one compressed period (2 s standing for a minute)" in metrics_line
    assert "of its 30-minute window up to the investigation" in metrics_line
    assert "whole rehearsal" in metrics_line and "stamped with the start of its minute" in metrics_line
    assert any("remediation commands are for a deployed stack" in c for c in notes.all_caveats())
    document = notes.to_json()
    assert document["providers"] == [provider, native] and document["metrics"] == metrics_line.removeprefix(
        "metrics    "
    )


def test_error_line_counts_are_worded_for_one_and_for_many(moto, aws_mock):
    from drill.aws import Clients
    from drill.investigator.collectors import logs
    from drill.investigator.collectors._base import Scope
    from drill.investigator.conclusions import impact_path
    from drill.investigator.model import Hypothesis, Target, Window

    client = moto["logs"]
    client.create_log_group(logGroupName="/aws/lambda/fn")
    client.create_log_stream(logGroupName="/aws/lambda/fn", logStreamName="s")
    now = datetime.now(UTC)

    def line(code: str, operation: str) -> str:
        return json.dumps({"message": "aws call failed", "error_code": code, "operation": operation})

    events = [line("403", "GetObject"), line("AccessDenied", "ListObjectsV2"), line("AccessDenied", "ListObjectsV2")]
    client.put_log_events(
        logGroupName="/aws/lambda/fn", logStreamName="s",
        logEvents=[{"timestamp": int(now.timestamp() * 1000) - 1000 + i, "message": m} for i, m in enumerate(events)],
    )  # fmt: skip
    target = Target(region=REGION, account=ACCOUNT, prefix="demo", bucket="b", function_name="fn", parameter_name="/p")
    scope = Scope(clients=Clients(aws_mock), target=target, window=Window.last(5, now))
    found = logs.collect(scope)
    assert sorted(e.detail.split(" in ")[0] for e in found) == ["1 'aws call failed' line", "2 'aws call failed' lines"]
    root = Hypothesis("bucket_policy_deny", "b", 0.8, tuple(e.id for e in found), "the bucket policy denies")
    path = impact_path(root, found, target)
    assert any(step.endswith("403 from GetObject (1 error line)") for step in path), path
    assert any(step.endswith("AccessDenied from ListObjectsV2 (2 error lines)") for step in path), path


def test_rehearse_help_speaks_to_users(capsys):
    from drill.parser import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["rehearse", "--help"])
    shown = capsys.readouterr().out
    assert "python -m drill run" in shown and "without an AWS account" in shown and "Ctrl-C" in shown
    for internal in ("http_probe", "Drill whose", "replica", "in-process Lambda runtime", "`run`'s"):
        assert internal not in shown, internal
