"""The rehearsal's FIS half (issue 20 §4): the provisioners for templates, metric-math and percentile alarms, the
alarm evaluator's percentile and metric-math evaluation, and the FIS stand-in (FIS's lifecycle and the extension's
share of invocations), all in process against moto's `mock_aws`. The replica of the whole program with
fisEnabled=true is an e2e test at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from drill import outputs as stack_outputs
from drill.rehearsal import alarms, fis_standin, provision_compute, provision_fis
from drill.rehearsal.aws_context import SERVICES, Aws
from drill.rehearsal.fis_standin import FisStandIn
from drill.rehearsal.runtime import FunctionSpec, InjectedFault, LambdaRuntime

REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's default account
ROOT = Path(__file__).resolve().parent.parent
GUARD = "IF(requests >= 10, 100 * FILL(failures, 0) / requests, 0)"  # the guards' expression (fault_experiments.py)
MOMENT = datetime(2026, 1, 1, 12, 0, 30, tzinfo=UTC)  # inside the minute starting 12:00:00
LOCATION = "arn:aws:s3:::fis-config/FisConfigs/"
GUARD_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:g"
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/fis/demo:*"


@pytest.fixture(scope="module")
def moto_clients():
    """One in-process moto and one set of clients for the module (making clients is what costs here)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
            patch.setenv(key, value)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        with mock_aws() as mock:
            yield mock, {service: boto3.client(service, region_name=REGION) for service in SERVICES}


@pytest.fixture
def clients(moto_clients):
    mock, made = moto_clients
    mock.reset()  # every test starts from an empty account
    return made


# ------------------------------------------------------------------------------------------ percentiles
def test_the_percentile_is_the_nearest_rank_of_the_datapoints():
    hundred = [float(v) for v in range(100, 0, -1)]  # unordered on purpose
    assert alarms.percentile(hundred, 99) == 99.0
    assert alarms.percentile(hundred, 50) == 50.0
    assert alarms.percentile(hundred, 100) == 100.0
    assert alarms.percentile([7.0], 99) == 7.0
    assert alarms.percentile([float(v) for v in range(1, 11)], 95) == 10.0  # rank 9.5 rounds up: the 10th
    assert alarms.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert alarms.percentile([], 99) is None  # no datapoint: missing data, not 0
    # 5 slow requests in 100: p99 is slow, p90 is not (the share an FIS latency experiment produces).
    assert alarms.percentile([10.0] * 95 + [3000.0] * 5, 99) == 3000.0
    assert alarms.percentile([10.0] * 95 + [3000.0] * 5, 90) == 10.0
    assert alarms.percentile_rank("p99") == 99.0 and alarms.percentile_rank("p99.9") == 99.9
    with pytest.raises(alarms.UnsupportedExpression, match="only percentiles"):
        alarms.percentile_rank("tm99")


# ------------------------------------------------------------------------------------------ metric math
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"requests": 20.0, "failures": 5.0}, 25.0),
        ({"requests": 10.0, "failures": 10.0}, 100.0),  # exactly the minimum: judged
        ({"requests": 9.0, "failures": 9.0}, 0.0),  # below the minimum: 0 %, not noise
        ({"requests": 20.0, "failures": None}, 0.0),  # FILL: requests without a failures datapoint
        ({"requests": None, "failures": None}, None),  # no traffic: missing data (notBreaching)
    ],
)
def test_the_guards_expression_is_evaluated_as_cloudwatch_would(values, expected):
    assert alarms.evaluate_expression(GUARD, values) == expected


def test_metric_math_outside_the_programs_subset_is_refused_not_guessed():
    assert alarms.evaluate_expression("a / b", {"a": 1.0, "b": 0.0}) is None  # division by zero: no value
    assert alarms.evaluate_expression("-a + 2 * b", {"a": 1.0, "b": 3.0}) == 5.0
    for expression in ("SUM(METRICS())", "a ** 2", "a if b else 0", "__import__('os')", "FILL(a)", "c + 1"):
        with pytest.raises(alarms.UnsupportedExpression):
            alarms.evaluate_expression(expression, {"a": 1.0, "b": 2.0})


# ------------------------------------------------------------------------------------------ the evaluator
def put(cloudwatch, namespace: str, dimensions: dict[str, str], name: str, values: list[float], at: datetime) -> None:
    dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    data = [{"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": v} for v in values]
    for start in range(0, len(data), 500):
        cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 500])


def evaluator(clients, names: list[str]) -> alarms.AlarmEvaluator:
    """Real one-minute periods (minute=60) read at MOMENT: the datapoints below fall in its current period."""
    return alarms.AlarmEvaluator(
        alarm_names=names,
        clients=clients,
        runtime=None,
        account=ACCOUNT,
        region=REGION,
        minute=60.0,
        tick=1.0,
        wall=lambda: MOMENT,
    )


def state(clients, name: str) -> str:
    return clients["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]


def provision_alarm(clients, inputs: dict) -> str:
    aws = Aws(clients=clients, region=REGION, account=ACCOUNT, runtime=None, root=ROOT)
    name, _ = provision_compute.metric_alarm(aws, "alarm", inputs)
    return name


LATENCY_ALARM = {
    "name": "latency", "namespace": "AWS/ApiGateway", "metricName": "Latency", "extendedStatistic": "p99",
    "dimensions": {"ApiName": "api", "Stage": "prod"}, "period": 60, "evaluationPeriods": 1, "threshold": 2000,
    "comparisonOperator": "GreaterThanThreshold", "treatMissingData": "notBreaching",
}  # fmt: skip


@pytest.mark.parametrize(("slow", "expected"), [(5, "ALARM"), (0, "OK")])
def test_the_latency_alarm_fires_on_its_p99_not_its_average(clients, slow, expected):
    name = provision_alarm(clients, LATENCY_ALARM)
    described = clients["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert described["ExtendedStatistic"] == "p99" and "Statistic" not in described  # stored as declared
    latencies = [10.0] * (100 - slow) + [3000.0] * slow  # average 159.5 ms with 5 slow: under the threshold
    put(clients["cloudwatch"], "AWS/ApiGateway", {"ApiName": "api", "Stage": "prod"}, "Latency", latencies, MOMENT)
    evaluator(clients, [name]).evaluate_all()
    assert state(clients, name) == expected


def guard_inputs(name: str) -> dict:
    def metric(query_id: str, metric_name: str) -> dict:
        metric = {"namespace": "AWS/Lambda", "metricName": metric_name, "dimensions": {"FunctionName": "fn"}}
        return {"id": query_id, "returnData": False, "metric": {**metric, "stat": "Sum", "period": 60}}

    queries = [metric("failures", "Errors"), metric("requests", "Invocations")]
    queries.append({"id": "rate", "expression": GUARD, "label": "failure rate (%)", "returnData": True})
    return {
        "name": name, "metricQueries": queries, "threshold": 50, "comparisonOperator": "GreaterThanThreshold",
        "evaluationPeriods": 1, "treatMissingData": "notBreaching",
    }  # fmt: skip


@pytest.mark.parametrize(("failed", "expected"), [(12, "ALARM"), (8, "OK")])
def test_a_guard_fires_on_its_rate_over_requests(clients, failed, expected):
    name = provision_alarm(clients, guard_inputs("guard"))
    described = clients["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert [q["Id"] for q in described["Metrics"]] == ["failures", "requests", "rate"]
    outcomes = [1.0] * failed + [0.0] * (20 - failed)  # 60 % or 40 % of 20 invocations
    put(clients["cloudwatch"], "AWS/Lambda", {"FunctionName": "fn"}, "Errors", outcomes, MOMENT)
    put(clients["cloudwatch"], "AWS/Lambda", {"FunctionName": "fn"}, "Invocations", [1.0] * 20, MOMENT)
    evaluator(clients, [name]).evaluate_all()
    assert state(clients, name) == expected


def test_a_guard_without_traffic_is_not_breaching(clients):
    name = provision_alarm(clients, guard_inputs("quiet-guard"))
    checker = evaluator(clients, [name])
    assert checker.window_values(
        clients["cloudwatch"].describe_alarms(AlarmNames=[name])["MetricAlarms"][0], MOMENT
    ) == [None]
    checker.evaluate_all()
    assert state(clients, name) == "OK"


# ------------------------------------------------------------------------------------------ provisioners
def test_the_template_provisioner_makes_the_declared_template_in_moto(clients):
    aws = Aws(clients=clients, region=REGION, account=ACCOUNT, runtime=None, root=ROOT)
    inputs = {
        "description": "latency", "roleArn": f"arn:aws:iam::{ACCOUNT}:role/fis",
        "targets": [{"name": "ImageFunction", "resourceType": "aws:lambda:function", "selectionMode": "ALL",
                     "resourceArns": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"]}],
        "actions": [{"name": "latency", "actionId": "aws:lambda:invocation-add-delay",
                     "target": {"key": "Functions", "value": "ImageFunction"},
                     "parameters": [{"key": "duration", "value": "PT5M"},
                                    {"key": "invocationPercentage", "value": "20"}]}],
        "stopConditions": [{"source": "aws:cloudwatch:alarm", "value": GUARD_ARN}],
        "logConfiguration": {"logSchemaVersion": 2, "cloudwatchLogsConfiguration": {"logGroupArn": LOG_GROUP}},
        "experimentOptions": {"accountTargeting": "single-account", "emptyTargetResolutionMode": "fail"},
        "tagsAll": {"Name": "t"},
    }  # fmt: skip
    template_id, outputs = provision_fis.experiment_template(aws, "fis-latency", inputs)
    made = clients["fis"].get_experiment_template(id=template_id)["experimentTemplate"]
    assert made["targets"]["ImageFunction"]["resourceArns"] == inputs["targets"][0]["resourceArns"]
    assert made["actions"]["latency"] == {
        "actionId": "aws:lambda:invocation-add-delay",
        "parameters": {"duration": "PT5M", "invocationPercentage": "20"},
        "targets": {"Functions": "ImageFunction"},
    }
    assert made["stopConditions"] == [{"source": "aws:cloudwatch:alarm", "value": GUARD_ARN}]
    assert made["logConfiguration"]["cloudWatchLogsConfiguration"] == {"logGroupArn": LOG_GROUP}
    assert made["tags"] == {"Name": "t"} == outputs["tagsAll"]


def test_the_extension_parameter_is_answered_with_a_labelled_stand_in_only(clients):
    aws = Aws(clients=clients, region=REGION, account=ACCOUNT, runtime=None, root=ROOT)
    name = "/aws/service/fis/lambda-extension/AWS-FIS-extension-arm64/1.x.x"
    answer = provision_fis.extension_parameter(aws, {"name": name, "region": REGION})
    assert answer["value"] == answer["insecureValue"]
    assert answer["value"].startswith(f"arn:aws:lambda:{REGION}:") and "rehearsal-stand-in" in answer["value"]
    assert "arm64" in answer["value"] and any("stand-in layer" in c for c in aws.caveats)
    assert provision_fis.extension_parameter(aws, {"name": "/other/parameter"}) is None


# ------------------------------------------------------------------------------------------ the stand-in
class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FUNCTION = "image-fn"


def deploy_target(clients, *, location: str | None = LOCATION, stop_alarm: str | None = None, **parameters) -> str:
    """A function with the extension's environment, the configuration bucket, and a template on the function."""
    clients["s3"].create_bucket(Bucket="fis-config", CreateBucketConfiguration={"LocationConstraint": REGION})
    role = clients["iam"].create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    environment = {"AWS_FIS_CONFIGURATION_LOCATION": location, "AWS_FIS_SLOW_POLL_INTERVAL_SECONDS": "30"}
    arn = clients["lambda"].create_function(
        FunctionName=FUNCTION, Runtime="python3.13", Role=role, Handler="handler.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Environment={"Variables": {k: v for k, v in environment.items() if v}},
    )["FunctionArn"]  # fmt: skip
    action = "aws:lambda:invocation-error" if "preventExecution" in parameters else "aws:lambda:invocation-add-delay"
    stops = [{"source": "none"}]
    if stop_alarm:
        stops = [
            {"source": "aws:cloudwatch:alarm", "value": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{stop_alarm}"}
        ]
    return clients["fis"].create_experiment_template(
        description="d", roleArn=role, stopConditions=stops,
        targets={"Fn": {"resourceType": "aws:lambda:function", "resourceArns": [arn], "selectionMode": "ALL"}},
        actions={"fault": {"actionId": action, "targets": {"Functions": "Fn"},
                           "parameters": {"duration": "PT5M", **{k: str(v) for k, v in parameters.items()}}}},
    )["experimentTemplate"]["id"]  # fmt: skip


def spec_of(clients) -> tuple[FunctionSpec, dict[str, str]]:
    configuration = clients["lambda"].get_function_configuration(FunctionName=FUNCTION)
    spec = FunctionSpec(FUNCTION, configuration["FunctionArn"], ROOT, "handler.handler", "role", "/aws/lambda/x")
    return spec, configuration["Environment"]["Variables"]


def stand_in(clients, clock: Clock, seed: int = 7) -> FisStandIn:
    runtime = type("NoRuntime", (), {"fault_injector": None})()
    made = FisStandIn(
        clients=clients, runtime=runtime, account=ACCOUNT, region=REGION, minute=60.0, seed=seed, clock=clock
    )
    made.install()
    return made


def status(clients, experiment_id: str) -> dict:
    return clients["fis"].get_experiment(id=experiment_id)["experiment"]["state"]


def config_keys(clients) -> list[str]:
    return [o["Key"] for o in clients["s3"].list_objects_v2(Bucket="fis-config").get("Contents", [])]


def test_a_started_experiment_runs_writes_its_configuration_and_stops_on_request(clients):
    template = deploy_target(clients, invocationPercentage=20, startupDelayMilliseconds=3000)
    clock = Clock()
    fis = stand_in(clients, clock)
    try:
        experiment = clients["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
        for _ in range(4):  # moto alone would go pending -> initiating -> running -> completed on these reads
            assert status(clients, experiment)["status"] == "pending"
        fis.sync()
        assert status(clients, experiment)["status"] == "running"
        [key] = config_keys(clients)
        assert key == f"FisConfigs/{FUNCTION}/{experiment}-fault.json"  # under the function's location
        document = json.loads(clients["s3"].get_object(Bucket="fis-config", Key=key)["Body"].read())
        assert document["parameters"]["startupDelayMilliseconds"] == "3000" and "stand-in" in document["standIn"]
        clients["fis"].stop_experiment(id=experiment)
        fis.sync()
        assert status(clients, experiment) == {"status": "stopped", "reason": "Experiment stopped"}
        assert config_keys(clients) == []
    finally:
        fis.uninstall()
    assert fis.runtime.fault_injector is None


def test_an_experiment_completes_after_its_duration_compressed(clients):
    template = deploy_target(clients, invocationPercentage=20, startupDelayMilliseconds=3000)
    clock = Clock()
    fis = stand_in(clients, clock)
    fis.minute = 2.0  # PT5M lasts 10 s of wall time
    try:
        experiment = clients["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
        fis.sync()
        clock.now += 9.9
        fis.sync()
        assert status(clients, experiment)["status"] == "running"
        clock.now += 0.1
        fis.sync()
        assert status(clients, experiment)["status"] == "completed" and config_keys(clients) == []
    finally:
        fis.uninstall()


def test_a_stop_condition_in_alarm_stops_the_experiment(clients):
    template = deploy_target(clients, stop_alarm="guard", invocationPercentage=20, preventExecution="true")
    clients["cloudwatch"].put_metric_alarm(
        AlarmName="guard", Namespace="n", MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanThreshold",
    )  # fmt: skip
    clock = Clock()
    fis = stand_in(clients, clock)
    try:
        experiment = clients["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
        fis.sync()
        fis.sync()
        assert status(clients, experiment)["status"] == "running"
        clients["cloudwatch"].set_alarm_state(AlarmName="guard", StateValue="ALARM", StateReason="test")
        fis.sync()
        assert status(clients, experiment) == {
            "status": "stopped",
            "reason": "Experiment stopped by stop condition guard",
        }
        assert config_keys(clients) == []
    finally:
        fis.uninstall()


def test_an_experiment_on_a_function_without_the_extension_fails(clients):
    template = deploy_target(clients, location=None, invocationPercentage=20, startupDelayMilliseconds=3000)
    fis = stand_in(clients, Clock())
    try:
        experiment = clients["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
        fis.sync()
        state_ = status(clients, experiment)
        assert state_["status"] == "failed" and "AWS_FIS_CONFIGURATION_LOCATION" in state_["reason"]
    finally:
        fis.uninstall()


def decisions(clients, seed: int, count: int) -> list[InjectedFault | None]:
    fis = stand_in(clients, Clock(), seed=seed)
    try:
        spec, environment = spec_of(clients)
        return [fis.fault_for(spec, environment) for _ in range(count)]
    finally:
        fis.uninstall()


def test_the_extension_delays_the_configured_share_of_invocations_reproducibly(clients):
    template = deploy_target(clients, invocationPercentage=20, startupDelayMilliseconds=3000)
    starter = stand_in(clients, Clock())
    clients["fis"].start_experiment(experimentTemplateId=template)
    starter.sync()
    starter.uninstall()
    first, again, other = decisions(clients, 7, 1000), decisions(clients, 7, 1000), decisions(clients, 8, 1000)
    delayed = [f for f in first if f is not None]
    assert 170 <= len(delayed) <= 230  # 20 % of 1000, give or take the generator
    assert [f is None for f in first] == [f is None for f in again]  # same seed: the same invocations
    assert [f is None for f in first] != [f is None for f in other]
    fault = delayed[0]
    assert fault.delay_ms == 3000 and fault.sleep_seconds == pytest.approx(3.0) and fault.run_handler
    assert not fault.error and "adding 3000 milliseconds of latency" in fault.log_line


def test_the_extension_fails_without_the_handler_when_execution_is_prevented(clients):
    template = deploy_target(clients, invocationPercentage=100, preventExecution="true")
    starter = stand_in(clients, Clock())
    clients["fis"].start_experiment(experimentTemplateId=template)
    starter.sync()
    starter.uninstall()
    [fault] = decisions(clients, 7, 1)
    assert fault.error and not fault.run_handler and fault.delay_ms == 0


def test_the_extension_stops_injecting_at_its_next_poll_after_the_experiment_ends(clients):
    template = deploy_target(clients, invocationPercentage=100, startupDelayMilliseconds=500)
    clock = Clock()
    fis = stand_in(clients, clock)
    spec, environment = spec_of(clients)
    try:
        assert fis.fault_for(spec, environment) is None  # polled: nothing configured
        experiment = clients["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
        fis.sync()
        clock.now += 29.9  # the slow poll interval (AWS_FIS_SLOW_POLL_INTERVAL_SECONDS=30) has not passed
        assert fis.fault_for(spec, environment) is None
        clock.now += 0.1
        assert fis.fault_for(spec, environment) is not None  # ramp-up: the next poll finds the configuration
        clients["fis"].stop_experiment(id=experiment)
        fis.sync()
        clock.now += fis_standin.FAST_POLL_SECONDS - 0.1
        assert fis.fault_for(spec, environment) is not None  # ramp-down: still the last poll's configuration
        clock.now += 0.1
        assert fis.fault_for(spec, environment) is None
    finally:
        fis.uninstall()


# ------------------------------------------------------------------------------------------ the runtime
def test_the_runtime_reports_an_injected_delay_in_full_and_fails_an_injected_error(clients, tmp_path):
    (tmp_path / "handler.py").write_text(
        "CALLS = []\n\ndef handler(event, context):\n    CALLS.append(1)\n    return {'ok': True}\n"
    )
    role = clients["iam"].create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    clients["logs"].create_log_group(logGroupName="/aws/lambda/fn")
    runtime = LambdaRuntime(base_environment={}, region=REGION, clients=clients, wall=lambda: MOMENT)
    runtime.register(
        FunctionSpec(
            "fn", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", tmp_path, "handler.handler", role, "/aws/lambda/fn"
        )
    )
    faults = iter(
        [
            InjectedFault(delay_ms=3000, sleep_seconds=0.01, log_line="adding 3000 ms"),
            InjectedFault(error="boom", run_handler=False),
        ]
    )
    runtime.fault_injector = lambda spec, environment: next(faults)
    assert runtime.invoke("fn", {}) == {"ok": True}
    assert runtime.take_added_milliseconds() == pytest.approx(2990) and runtime.take_added_milliseconds() == 0
    failed = runtime.invoke("fn", {})
    assert failed["errorMessage"] == "boom" and len(runtime.containers["fn"].modules["handler"].CALLS) == 1
    assert [i["ok"] for i in runtime.invocations] == [True, False]
    assert runtime.invocations[0]["ms"] >= 3000 and runtime.invocations[1]["ms"] < 3000
    stats = clients["cloudwatch"].get_metric_statistics(
        Namespace="AWS/Lambda", MetricName="Errors", Dimensions=[{"Name": "FunctionName", "Value": "fn"}],
        StartTime=MOMENT - timedelta(minutes=1), EndTime=MOMENT + timedelta(minutes=1), Period=60, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    assert stats[0]["Sum"] == 1.0
    events = clients["logs"].filter_log_events(logGroupName="/aws/lambda/fn")["events"]
    assert any("adding 3000 ms" in e["message"] for e in events)


# ------------------------------------------------------------------------------------------ the replica (e2e)
RECORD = """
import os, pickle, sys
sys.path[:0] = [{root!r}, {tests!r}]
os.chdir({root!r})
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION={region!r})
import boto3, stack_plan
from moto import mock_aws
with mock_aws():
    session = boto3.Session(region_name={region!r})
plan = stack_plan.record(session, {{"aiops-demo:fisEnabled": "true"}})
wanted = ("create_experiment_template", "put_metric_alarm")
calls = [(c.service, c.operation, c.params) for c in plan.calls if c.operation in wanted]
open({out!r}, "wb").write(pickle.dumps((calls, plan.outputs)))
"""


@pytest.mark.e2e
def test_the_replica_with_fis_enabled_provisions_the_templates_guards_and_latency_alarm(tmp_path):
    import pickle

    out = tmp_path / "fis-plan.pickle"
    script = RECORD.format(root=str(ROOT), tests=str(ROOT / "tests"), region=REGION, out=str(out))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=300)  # noqa: S603
    calls, outputs = pickle.loads(out.read_bytes())  # noqa: S301 (written just above)
    templates = [params for _, operation, params in calls if operation == "create_experiment_template"]
    actions = {a["actionId"]: a for t in templates for a in t["actions"].values()}
    assert set(actions) == {"aws:lambda:invocation-add-delay", "aws:lambda:invocation-error"}
    assert actions["aws:lambda:invocation-error"]["parameters"]["preventExecution"] == "true"
    assert all(len(t["stopConditions"]) == 2 for t in templates)
    alarms_ = {p["AlarmName"]: p for _, operation, p in calls if operation == "put_metric_alarm"}
    guards = [p for p in alarms_.values() if "Metrics" in p]
    assert len(guards) == 2 and all(GUARD in [q.get("Expression") for q in g["Metrics"]] for g in guards)
    [latency] = [p for p in alarms_.values() if p.get("ExtendedStatistic")]
    assert latency["ExtendedStatistic"] == "p99" and "Statistic" not in latency
    assert outputs["FisLatencyExperimentTemplateId"] and outputs["FisErrorsExperimentTemplateId"]
    assert outputs["FisConfigurationLocation"].endswith("/FisConfigs/")


def test_with_values_overrides_a_stack_file_by_plain_or_qualified_keys():
    from drill.rehearsal.stack_config import StackConfig

    base = StackConfig(
        project="aiops-demo", stack="dev", values={"aiops-demo:fisEnabled": "false", "aws:region": REGION}
    )
    changed = base.with_values({"fisEnabled": True, "aws:region": "eu-west-1"})
    assert changed.values == {"aiops-demo:fisEnabled": "true", "aws:region": "eu-west-1"}
    assert base.values["aiops-demo:fisEnabled"] == "false"  # a new configuration, the old one unchanged


# ------------------------------------------------------------------------------------------ the whole flow (e2e)
def wait_for(what: str, check, timeout: float):
    """Until `check()` is truthy; `timeout` is the bound the code under test implies, not a guess of its speed."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def experiment_status(fis, experiment_id: str) -> str:
    return fis.get_experiment(id=experiment_id)["experiment"]["state"]["status"]


def steady_traffic(url: str, stop) -> None:
    """About 50 requests a second until `stop` is set (the guards and a p99 need steady traffic)."""
    import contextlib
    import urllib.error
    import urllib.request

    while not stop.wait(0.02):
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(url, timeout=10).read()  # noqa: S310 (the local API on 127.0.0.1)


SCENARIOS = {  # experiment -> (its settings, the template output, the alarm it sets off, the action)
    "latency": (
        {"fisLatencyPercentage": 40, "fisLatencyDurationMinutes": 30},
        stack_outputs.FIS_LATENCY_TEMPLATE, stack_outputs.LATENCY_ALARM, "aws:lambda:invocation-add-delay",
    ),
    "errors": (
        {"fisErrorsPercentage": 40, "fisErrorsDurationMinutes": 30},
        stack_outputs.FIS_ERRORS_TEMPLATE, stack_outputs.API_5XX_ALARM, "aws:lambda:invocation-error",
    ),
}  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize("experiment_key", list(SCENARIOS))
def test_an_experiment_in_the_rehearsal_sets_off_its_alarm_and_stops_cleanly(experiment_key):
    """moto server, the replica with fisEnabled=true, the local API, the alarm evaluator and the stand-in, as the
    rehearsal runs them: steady traffic, StartExperiment, the latency (p99) or 5XX alarm fires, StopExperiment,
    the configuration is gone and the extension stops injecting."""
    import threading
    import time
    import urllib.request

    from drill.rehearsal.command import ENDPOINT, MINUTE_SECONDS, working_directory
    from drill.rehearsal.command import ROOT as PROJECT
    from drill.rehearsal.local_api import LocalApi
    from drill.rehearsal.moto_server import FAKE_CREDENTIALS, aws_environment, isolated_environment, moto_server
    from drill.rehearsal.replica import deploy
    from drill.rehearsal.stack_config import load_stack_config

    # 40 % of invocations: the traffic a loaded machine manages (a few requests per compressed minute) still has
    # faulty ones in most periods. 30 minutes (60 s here): the experiment does not end by itself before the stop.
    settings, template_output, alarm_output, action = SCENARIOS[experiment_key]
    config = load_stack_config(PROJECT, "dev").with_values({"fisEnabled": True, **settings})
    with moto_server() as moto, isolated_environment(aws_environment(moto.url, REGION)), working_directory(PROJECT):
        # moto's backends belong to the process, not to one server: start from an empty account.
        urllib.request.urlopen(urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST")).read()  # noqa: S310
        session = boto3.session.Session(region_name=REGION, **{k.lower(): v for k, v in FAKE_CREDENTIALS.items()})
        made = {service: session.client(service, endpoint_url=moto.url) for service in SERVICES}
        runtime = LambdaRuntime(base_environment=aws_environment(moto.url, REGION), region=REGION, clients=made)
        runtime.start()
        account = made["sts"].get_caller_identity()["Account"]
        aws = Aws(clients=made, region=REGION, account=account, runtime=runtime, root=PROJECT)
        replica = deploy(aws, config, PROJECT)
        outputs = replica.outputs
        alarm_names = [r["id"] for r in replica.provisioned if r["type"] == "aws:cloudwatch/metricAlarm:MetricAlarm"]
        # As for every scenario but the seed's, the invocations alarm is disarmed: traffic does not inject the Deny.
        made["cloudwatch"].disable_alarm_actions(AlarmNames=[outputs[stack_outputs.INVOCATIONS_ALARM]])
        route = ENDPOINT.match(outputs[stack_outputs.API_ENDPOINT])
        api = LocalApi(api_id=route["api"], stage=route["stage"], clients=made, runtime=runtime)
        api.start()
        checker = alarms.AlarmEvaluator(
            alarm_names=alarm_names, clients=made, runtime=runtime, account=account, region=REGION,
            minute=MINUTE_SECONDS, tick=0.25,
        )  # fmt: skip
        checker.start()
        fis = FisStandIn(clients=made, runtime=runtime, account=account, region=REGION, minute=MINUTE_SECONDS)
        stop_traffic = threading.Event()
        sender = threading.Thread(target=steady_traffic, args=(api.url(route["path"]), stop_traffic), daemon=True)
        alarm = outputs[alarm_output]
        try:
            with fis_standin.running(fis, tick=0.25):
                sender.start()
                template = outputs[template_output]
                experiment = made["fis"].start_experiment(experimentTemplateId=template)["experiment"]["id"]
                wait_for("the experiment running", lambda: experiment_status(made["fis"], experiment) == "running", 5)
                # The slow poll (30 s) and 2 of 3 one-minute periods with a slow request (or one 5XX), compressed: a
                # few seconds; the bound is the experiment's own duration (60 s here).
                wait_for(
                    f"the alarm {alarm}",
                    lambda: any(t.alarm == alarm and t.new == "ALARM" for t in checker.transitions),
                    fis.scaled(30 * 60),
                )
                made["fis"].stop_experiment(id=experiment)
                wait_for("the experiment stopped", lambda: experiment_status(made["fis"], experiment) == "stopped", 5)
                bucket = outputs[stack_outputs.FIS_CONFIGURATION_LOCATION].split(":::", 1)[1].split("/", 1)[0]
                assert made["s3"].list_objects_v2(Bucket=bucket, Prefix="FisConfigs/").get("KeyCount") == 0
                time.sleep(fis.scaled(fis_standin.FAST_POLL_SECONDS) + 0.5)  # the extension's ramp-down
                injected, before = dict(fis.injected), len(runtime.invocations)
                wait_for("more traffic", lambda: len(runtime.invocations) > before + 20, 15)
                assert fis.injected == injected  # nothing delayed after the ramp-down
        finally:
            stop_traffic.set()
            checker.stop()
            api.stop()
            runtime.stop()
        assert set(injected) == {action} and checker.errors == []
        if experiment_key == "latency":
            affected = [i for i in runtime.invocations if i["ms"] >= 3000]
            assert set(api.statuses) == {200}
        else:
            affected = [i for i in runtime.invocations if not i["ok"]]
            assert set(api.statuses) == {200, 502}  # API Gateway's answer to a failed proxy invocation
        assert 0 < len(affected) < len(runtime.invocations) / 2  # a share, not every invocation
