"""`python -m drill rehearse --scenario NAME|all`: every game-day scenario played offline, and its pieces.

The whole run (one moto, one provisioning, every scenario) is end-to-end (`-m e2e`). The fast tests pin
the pieces it is built of: the choice of scenarios, the scorecard and its JSON, a mechanism the rehearsal
cannot play, the restore after a failed inject, the field-by-field comparison, the FIS scenarios' steps
(their own alarm under steady traffic, fisEnabled only for them, the experiments in the compared state), the
gateway's checks on the settings the scenarios change, moto's access control on the functions' S3 calls,
each Lambda container's own credentials, and the alarm actions a SetAlarmState runs.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
import rehearsal_run
from conftest import ACCOUNT, REGION
from moto import settings as moto_settings

from drill.errors import DrillError, UsageError
from drill.outputs import ERRORS_ALARM, FIS_LATENCY_TEMPLATE, LATENCY_ALARM
from drill.rehearsal import access_control, alarms, command, gateway_checks, runtime, scenario_play
from drill.rehearsal.scenario_state import differences
from drill.rehearsal.stack_config import StackConfig
from drill.scenarios.catalogue import NAMES
from drill.scenarios.model import Scenario
from drill.stack import StackOutputs
from drill.steps.model import Probe, StepResult

SCENARIOS_TIMEOUT_SECONDS = 300  # provisioning and eleven scenarios on a loaded 2-core machine
ROLE_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


# ------------------------------------------------------------------------------------------ the whole run (e2e)
@pytest.mark.e2e
def test_every_scenario_is_detected_and_restored_exactly_in_one_rehearsal(tmp_path):
    command = [sys.executable, "-m", "drill", "rehearse", "--scenario", "all", "--json"]
    process = rehearsal_run.start_command(tmp_path, command)
    try:
        code, stdout, stderr, _group = rehearsal_run.result(tmp_path, SCENARIOS_TIMEOUT_SECONDS)
    finally:
        rehearsal_run.stop(process, tmp_path)
    document = json.loads(stdout)
    played = document["scenarios"]
    assert [p["name"] for p in played] == list(NAMES)
    for entry in played:
        assert {"name", "kind", "detected", "restored", "seconds"} <= set(entry)
        assert entry["detected"] and entry["restored"], (json.dumps(entry), stderr[-3000:])
        assert entry["differences"] == {} and entry["skipped"] is None
    assert code == 0 and document["ok"] is True
    # The inline Deny's symptom is moto's own access control refusing the image role (no home-made check).
    assert next(p for p in played if p["name"] == "role_permission_missing")["symptom"].startswith("HTTP 5")
    assert next(p for p in played if p["name"] == "api_throttled")["symptom"].startswith("HTTP 429")
    # The partial faults: each scenario's own alarm, under traffic that mostly still answers 200.
    symptoms = {p["name"]: p["symptom"] for p in played if p["mechanism"] == "fis"}
    assert symptoms["function_latency"].startswith("alarm aiops-demo-dev-api-latency-alarm ALARM under traffic")
    assert symptoms["function_errors"].startswith("alarm aiops-demo-dev-image-api-errors-alarm ALARM under traffic")
    caveats = " ".join(document["rehearsal"]["caveats"])
    assert "moto's own access control" in caveats and "ignores a bucket policy's Principal" in caveats
    assert "FIS stand-in (not AWS FIS)" in caveats and "fisEnabled is true here" in caveats


# ------------------------------------------------------------------------------------------ choosing and usage
def test_all_chooses_the_whole_catalogue_in_its_order_and_a_name_chooses_itself():
    assert scenario_play.chosen("all") == list(NAMES)
    assert scenario_play.chosen("api_throttled") == ["api_throttled"]


def test_an_unknown_scenario_is_a_usage_error_naming_every_choice():
    with pytest.raises(UsageError) as raised:
        scenario_play.chosen("no_such_thing")
    assert raised.value.exit_code == 2
    assert "'no_such_thing'" in str(raised.value) and all(name in str(raised.value) for name in ("all", *NAMES))


def test_the_cli_refuses_an_unknown_scenario_with_exit_2_and_one_line_before_anything_starts(monkeypatch):
    from drill import cli
    from drill.rehearsal import moto_server

    def no_moto():
        raise AssertionError("moto must not start for an unknown scenario")

    monkeypatch.setattr(moto_server, "moto_server", no_moto)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["rehearse", "--scenario", "nope"], out=out, err=err) == 2
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "unknown scenario 'nope'" in lines[0] and "api_throttled" in lines[0]


# ------------------------------------------------------------------------------------------ scorecard and JSON
def results() -> list[scenario_play.Played]:
    return [
        scenario_play.Played("api_throttled", "api_throttled", "direct", True, True, 2.24, found="api_throttled"),
        scenario_play.Played(
            "parameter_missing",
            "parameter_missing",
            "direct",
            False,
            False,
            3.0,
            found="healthy",
            differences={"parameter": {"before": {"Value": "b"}, "after": None}},
        ),  # fmt: skip
        scenario_play.Played("function_latency", "fis_latency_injected", "fis", skipped="AWS FIS is not in moto"),
    ]


def test_the_json_holds_every_scenario_with_the_agreed_keys():
    out = io.StringIO()
    scenario_play.render(results(), as_json=True, out=out)
    document = json.loads(out.getvalue())
    assert set(document) == {"scenarios", "ok"} and document["ok"] is False
    first = document["scenarios"][0]
    assert {k: first[k] for k in ("name", "kind", "detected", "restored", "seconds")} == {
        "name": "api_throttled",
        "kind": "api_throttled",
        "detected": True,
        "restored": True,
        "seconds": 2.2,
    }
    skipped = document["scenarios"][2]
    assert skipped["skipped"] == "AWS FIS is not in moto" and skipped["detected"] is False


def test_the_scorecard_shows_each_scenario_what_differs_and_what_was_skipped():
    lines = scenario_play.scorecard(results())
    assert lines[0].split() == ["scenario", "investigator", "found", "detected", "restored", "seconds"]
    assert lines[1].split() == ["api_throttled", "api_throttled", "yes", "yes", "2.2"]
    assert lines[2].split()[:4] == ["parameter_missing", "healthy", "NO", "NO"]
    assert "differs after the restore: parameter: {'Value': 'b'} -> None" in lines[3]
    assert lines[4].split()[:2] == ["function_latency", "skipped:"] and "AWS FIS is not in moto" in lines[4]
    assert lines[-1] == "1/3 detected, 1/3 restored exactly, 1 skipped, 5.2s"


def test_only_every_scenario_detected_and_restored_is_a_success():
    good = results()[0]
    assert scenario_play.ok([good])
    assert not scenario_play.ok([good, results()[1]])
    assert not scenario_play.ok([good, results()[2]])  # a skipped scenario is not detected
    assert not scenario_play.ok([])


# ------------------------------------------------------------------------------------------ the loop
def fis_scenario() -> Scenario:
    return Scenario("function_latency", "fis_latency_injected", "FIS", "fis", "latency", "stop it", ())


def never(*_args):
    raise AssertionError("a scenario that is not played must not touch the stack")


def test_a_mechanism_without_offline_steps_is_skipped_with_its_reason_and_never_detected(monkeypatch):
    monkeypatch.delitem(scenario_play.MECHANISMS, "fis")
    monkeypatch.setitem(scenario_play.WHY_NOT_PLAYED, "fis", "no FIS stand-in here")
    played = scenario_play.play(SimpleNamespace(), fis_scenario(), timing=timing(), read_state=never, compare=never)
    assert played.skipped == "no FIS stand-in here"
    assert not played.detected and not played.restored


def timing() -> scenario_play.Timing:
    return scenario_play.Timing(symptom_timeout=1, restore_timeout=1, interval=0.01, since_minutes=1)


def test_a_mechanism_brings_its_own_steps_and_a_failed_inject_is_restored_and_reported(monkeypatch):
    calls = []

    def inject(_drill, scenario, _timing):
        calls.append(("inject", scenario.name))
        raise DrillError("refused")

    def restore(_drill, scenario, _timing):
        calls.append(("restore", scenario.name))
        return StepResult("restore", True, 0.1, "restored", [], {})

    monkeypatch.setitem(scenario_play.MECHANISMS, "fis", scenario_play.OfflineSteps(inject=inject, restore=restore))
    states = iter([{"concurrency": None}, {"concurrency": None}])
    played = scenario_play.play(
        SimpleNamespace(), fis_scenario(), timing=timing(), read_state=lambda _d: next(states), compare=differences
    )
    assert calls == [("inject", "function_latency"), ("restore", "function_latency")]
    assert played.skipped is None and played.error == "refused"
    assert not played.detected and played.restored  # undone, and nothing differs


def test_a_state_that_cannot_be_read_first_leaves_the_scenario_unplayed_and_says_why(monkeypatch):
    from botocore.exceptions import ClientError

    def unreadable(_drill):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetBucketPolicy")

    steps = scenario_play.OfflineSteps(inject=never, restore=never)
    monkeypatch.setitem(scenario_play.MECHANISMS, "fis", steps)
    played = scenario_play.play(
        SimpleNamespace(), fis_scenario(), timing=timing(), read_state=unreadable, compare=never
    )
    assert played.error.startswith("could not read the state before the injection")
    assert not played.detected and not played.restored and not scenario_play.ok([played])


def test_the_comparison_names_every_field_that_differs_with_both_values():
    before = {"objects": [("a.png", '"e"', 3)], "concurrency": None, "alarms": {"x": {"ActionsEnabled": True}}}
    after = {"objects": [["a.png", '"e"', 3]], "concurrency": 0, "alarms": {"x": {"ActionsEnabled": False}}}
    assert differences(before, after) == {
        "alarms": {"before": {"x": {"ActionsEnabled": True}}, "after": {"x": {"ActionsEnabled": False}}},
        "concurrency": {"before": None, "after": 0},
    }


# ------------------------------------------------------------------------------------------ the FIS scenarios
class AlarmDrill:
    """Just what a FIS scenario's offline steps read: the alarm outputs, the alarm's states one look at a time
    (the last repeats), the probe the traffic sends, and a real clock (the waits end by their deadlines)."""

    def __init__(self, states: list[str]) -> None:
        self.outputs = StackOutputs(values={LATENCY_ALARM: "latency", ERRORS_ALARM: "errors"}, origin="test")
        self.states, self.looks, self.probes, self.lines = list(states), [], 0, []
        self.lock = threading.Lock()
        self.clients = SimpleNamespace(cloudwatch=SimpleNamespace(describe_alarms=self.describe_alarms))
        self.clock, self.sleep = time.monotonic, time.sleep

    def describe_alarms(self, AlarmNames):  # noqa: N803 (boto3's name)
        self.looks.append(AlarmNames)
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return {"MetricAlarms": [{"AlarmName": AlarmNames[0], "StateValue": state}]}

    def probe(self) -> Probe:
        with self.lock:
            self.probes += 1
        time.sleep(0.001)
        return Probe(200, 1.0)

    def progress(self, line: str) -> None:
        self.lines.append(line)


def fis_steps_recorded(monkeypatch, drill: AlarmDrill, found: str = "fis_latency_injected") -> list[tuple]:
    """The drill's inject, the investigator and the drill's restore replaced by recorders (what the requests
    had done by then is noted with each)."""
    calls: list[tuple] = []

    def inject(_drill, name, **_kwargs):
        calls.append(("inject", name, len(drill.looks)))
        return StepResult("inject", True, 0.1, "injected", [], {})

    def investigate(_drill, since_minutes):
        time.sleep(0.05)  # traffic goes on while the investigator reads
        calls.append(("investigate", drill.probes))
        return None, SimpleNamespace(root_cause=SimpleNamespace(kind=found), incident=None)

    def restore(_drill, **_kwargs):
        calls.append(("restore", drill.probes))
        time.sleep(0.05)
        calls.append(("after restore", drill.probes))
        return StepResult("restore", True, 0.1, "restored", [], {})

    monkeypatch.setattr(scenario_play, "inject", inject)
    monkeypatch.setattr(scenario_play, "restore", restore)
    monkeypatch.setattr(importlib.import_module("drill.steps.run"), "investigate_step", investigate)
    return calls


def fis_timing(symptom_timeout: float = 5.0) -> scenario_play.Timing:
    return scenario_play.Timing(symptom_timeout, 5, 0.01, 1, traffic_rps=200, traffic_round=0.02)


def test_a_fis_scenario_waits_for_its_own_alarm_under_steady_traffic_that_stops_before_the_restore(monkeypatch):
    # Left in ALARM by the scenario before: the inject waits until it is OK; then OK, OK, ALARM under traffic.
    drill = AlarmDrill(["ALARM", "OK", "OK", "OK", "ALARM"])
    calls = fis_steps_recorded(monkeypatch, drill)
    played = scenario_play.play(
        drill, fis_scenario(), timing=fis_timing(), read_state=lambda _d: {}, compare=differences
    )
    assert scenario_play.MECHANISMS["fis"] is scenario_play.FIS_STEPS
    assert calls[0] == ("inject", "function_latency", 2)  # injected once the alarm had left ALARM
    assert drill.looks == [["latency"]] * 5  # the latency alarm only, never the errors one
    (_, during), (_, at_restore), (_, later) = calls[1:]
    assert during > 0  # the investigator ran under traffic
    assert later == at_restore  # no request after the restore began
    assert played.detected and played.restored and played.error is None
    assert played.symptom.startswith("alarm latency ALARM under traffic: ")
    assert "requests (200 x" in played.symptom


def test_a_fis_scenario_whose_alarm_stays_ok_has_no_symptom_and_is_still_restored(monkeypatch):
    drill = AlarmDrill(["OK"])
    calls = fis_steps_recorded(monkeypatch, drill)
    played = scenario_play.play(
        drill, fis_scenario(), timing=fis_timing(0.2), read_state=lambda _d: {}, compare=differences
    )
    assert [c[0] for c in calls] == ["inject", "restore", "after restore"]
    assert played.error == "no symptom: alarm latency is OK under traffic at the timeout"
    assert not played.detected and played.restored
    assert drill.lines == ["waiting for latency under traffic: OK"]  # one line per state, not per look


def test_a_fis_scenario_is_not_injected_while_its_alarm_stays_in_alarm_from_before(monkeypatch):
    drill = AlarmDrill(["ALARM"])
    calls = fis_steps_recorded(monkeypatch, drill)
    played = scenario_play.play(
        drill, fis_scenario(), timing=fis_timing(0.2), read_state=lambda _d: {}, compare=differences
    )
    assert [c[0] for c in calls] == ["restore", "after restore"] and drill.probes == 0
    assert "still ALARM from before the scenario" in played.error and not played.detected


def test_the_errors_scenario_watches_the_functions_errors_alarm(monkeypatch):
    drill = AlarmDrill(["OK", "ALARM"])
    fis_steps_recorded(monkeypatch, drill, found="fis_errors_injected")
    errors = Scenario("function_errors", "fis_errors_injected", "FIS", "fis", "errors", "stop it", ())
    played = scenario_play.play(drill, errors, timing=fis_timing(), read_state=lambda _d: {}, compare=differences)
    assert {tuple(look) for look in drill.looks} == {("errors",)} and played.detected


def stack_config(**values) -> StackConfig:
    return StackConfig("aiops-demo", "dev", {"aws:region": REGION, **{f"aiops-demo:{k}": v for k, v in values.items()}})


def test_fis_is_enabled_only_when_a_fis_scenario_is_chosen_with_experiments_that_outlast_it():
    config = stack_config(fisEnabled="false", fisLatencyDurationMinutes="5")
    assert command.with_fis(config, ["api_throttled", "parameter_missing"]) is config
    enabled = command.with_fis(config, ["api_throttled", "function_errors"]).values
    assert enabled["aiops-demo:fisEnabled"] == "true"
    assert enabled["aiops-demo:fisLatencyDurationMinutes"] == enabled["aiops-demo:fisErrorsDurationMinutes"] == "60"
    assert config.values["aiops-demo:fisEnabled"] == "false"  # the stack's own configuration is left alone


def test_fis_scenarios_on_a_stack_with_application_signals_are_a_usage_error_naming_both_keys(monkeypatch):
    from drill import cli
    from drill.rehearsal import moto_server
    from drill.rehearsal import stack_config as stack_config_module

    def no_moto():
        raise AssertionError("moto must not start for a configuration the program refuses")

    monkeypatch.setattr(moto_server, "moto_server", no_moto)
    monkeypatch.setattr(
        stack_config_module, "load_stack_config", lambda _root, _stack: stack_config(applicationSignalsEnabled="true")
    )
    assert command.with_fis(stack_config(applicationSignalsEnabled="true"), ["api_throttled"]).values  # no FIS: fine
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["rehearse", "--scenario", "all"], out=out, err=err) == 2
    lines = err.getvalue().splitlines()
    assert out.getvalue() == "" and len(lines) == 1
    assert "aiops-demo:fisEnabled=true" in lines[0] and "aiops-demo:applicationSignalsEnabled=true" in lines[0]
    assert "function_latency, function_errors" in lines[0]


def test_the_compared_state_holds_the_experiments_not_ended_and_the_configuration_objects(aws_mock):
    from fis_fixtures import add_fis, frozen_experiments, set_status

    from drill.aws import Clients
    from drill.rehearsal.scenario_state import experiments

    clients = Clients(boto3.DEFAULT_SESSION)  # the one aws_mock shares: a session of its own costs more than this test
    values = {"ImageApiFunctionName": "image"}
    plain = SimpleNamespace(outputs=StackOutputs(values=dict(values), origin="test"), clients=clients)
    assert experiments(plain) == {}  # no FIS on the stack: no FIS call
    add_fis(clients, values, "t")
    drill = SimpleNamespace(outputs=StackOutputs(values=values, origin="test"), clients=clients)
    assert experiments(drill) == {"experiments_not_ended": [], "fis_configuration": []}
    with frozen_experiments():
        started = clients.client("fis").start_experiment(experimentTemplateId=values[FIS_LATENCY_TEMPLATE])
        experiment_id = started["experiment"]["id"]
        set_status(experiment_id, "running")
        clients.s3.put_object(Bucket="t-fis-config", Key="FisConfigs/image/x.json", Body=b"{}")
        assert experiments(drill) == {
            "experiments_not_ended": [(experiment_id, "running")],
            "fis_configuration": ["FisConfigs/image/x.json"],
        }
        set_status(experiment_id, "stopped")  # FIS still lists it: a stopped experiment is no difference
        clients.s3.delete_object(Bucket="t-fis-config", Key="FisConfigs/image/x.json")
        assert experiments(drill) == {"experiments_not_ended": [], "fis_configuration": []}


# ------------------------------------------------------------------------------------------ the gateway's checks
@pytest.fixture
def gateway(aws_mock):
    """A function behind GET /random on stage prod, in moto, as the local API sees it."""
    lam, apigateway, iam = (boto3.client(s, region_name=REGION) for s in ("lambda", "apigateway", "iam"))
    role = iam.create_role(RoleName="image", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]["Arn"]
    other = iam.create_role(RoleName="standby", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]["Arn"]
    arn = lam.create_function(
        FunctionName="image", Runtime="python3.13", Role=role, Handler="handler.handler",
        Code={"ZipFile": b"PK"}, Environment={"Variables": {"P": "/p"}},
    )["FunctionArn"]  # fmt: skip
    api_id = apigateway.create_rest_api(name="api")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    resource = apigateway.create_resource(restApiId=api_id, parentId=root, pathPart="random")["id"]
    apigateway.put_method(restApiId=api_id, resourceId=resource, httpMethod="GET", authorizationType="NONE")
    apigateway.put_integration(
        restApiId=api_id, resourceId=resource, httpMethod="GET", type="AWS_PROXY", integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
    )  # fmt: skip
    apigateway.create_deployment(restApiId=api_id, stageName="prod")
    lam.add_permission(
        FunctionName="image", StatementId="api", Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*/GET/random",
    )  # fmt: skip
    registered = []
    spec = runtime.FunctionSpec("image", arn, Path("."), "handler.handler", role, "/aws/lambda/image", {"P": "/p"})
    functions = {"image": spec}

    def register(new: runtime.FunctionSpec) -> None:  # as the runtime registers: the new definition holds
        registered.append(new)
        functions[new.name] = new

    fake_runtime = SimpleNamespace(functions=functions, register=register)
    api = SimpleNamespace(
        api_id=api_id, stage="prod", apigateway=apigateway, lambda_=lam, runtime=fake_runtime,
        cloudwatch=boto3.client("cloudwatch", region_name=REGION),
    )  # fmt: skip
    return SimpleNamespace(api=api, lam=lam, apigateway=apigateway, registered=registered, other=other)


def check(g) -> tuple[int, str] | None:
    return gateway_checks.refusal(g.api, "GET", "/random", "image")


def test_a_healthy_stage_and_function_pass_the_gateways_checks(gateway):
    assert check(gateway) is None and gateway.registered == []


def test_a_zero_stage_throttle_is_a_429(gateway):
    operations = [{"op": "replace", "path": f"/*/*/throttling/{k}", "value": "0"} for k in ("rateLimit", "burstLimit")]
    gateway.apigateway.update_stage(restApiId=gateway.api.api_id, stageName="prod", patchOperations=operations)
    assert check(gateway) == (429, "Too Many Requests")


def test_without_api_gateways_permission_the_answer_is_500(gateway):
    gateway.lam.remove_permission(FunctionName="image", StatementId="api")
    assert check(gateway) == (500, "Internal server error")


def test_a_permission_for_another_api_does_not_let_this_one_invoke(gateway):
    gateway.lam.remove_permission(FunctionName="image", StatementId="api")
    gateway.lam.add_permission(
        FunctionName="image", StatementId="other", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com", SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other/*/GET/random",
    )  # fmt: skip
    assert check(gateway) == (500, "Internal server error")


def test_reserved_concurrency_zero_is_a_500_and_a_throttle_datapoint(gateway):
    gateway.lam.put_function_concurrency(FunctionName="image", ReservedConcurrentExecutions=0)
    assert check(gateway) == (500, "Internal server error")
    metrics = gateway.api.cloudwatch.list_metrics(Namespace="AWS/Lambda", MetricName="Throttles")["Metrics"]
    assert metrics and metrics[0]["Dimensions"] == [{"Name": "FunctionName", "Value": "image"}]


def test_a_changed_role_or_environment_registers_the_function_again(gateway):
    gateway.lam.update_function_configuration(FunctionName="image", Role=gateway.other)
    assert check(gateway) is None
    assert [spec.role_arn for spec in gateway.registered] == [gateway.other]
    assert check(gateway) is None and len(gateway.registered) == 1  # registered once, not on every request
    gateway.lam.update_function_configuration(FunctionName="image", Environment={"Variables": {"P": "/q"}})
    check(gateway)
    assert len(gateway.registered) == 2 and dict(gateway.registered[-1].environment) == {"P": "/q"}


# ------------------------------------------------------------------------------------------ moto's access control
def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_moto_checks_a_roles_s3_calls_and_nothing_else_while_the_block_lasts(aws_mock):
    iam, s3, ssm = (boto3.client(s, region_name=REGION) for s in ("iam", "s3", "ssm"))
    s3.create_bucket(Bucket="images", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="images", Key="a.png", Body=b"x")
    ssm.put_parameter(Name="/p", Value="images", Type="String")
    iam.create_role(RoleName="image", AssumeRolePolicyDocument=ROLE_TRUST)
    allow = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::images/*"}
    iam.put_role_policy(RoleName="image", PolicyName="read", PolicyDocument=policy(allow))
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/image", RoleSessionName="image"
    )["Credentials"]
    as_role = {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
        "region_name": REGION,
    }
    role_s3, role_ssm = boto3.client("s3", **as_role), boto3.client("ssm", **as_role)
    deny = {**allow, "Effect": "Deny"}
    iam.put_role_policy(RoleName="image", PolicyName="deny", PolicyDocument=policy(deny))
    free_calls = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    assert role_s3.get_object(Bucket="images", Key="a.png")["Body"].read() == b"x"  # moto ignores IAM by default
    with access_control.s3_checked_for_roles():
        with pytest.raises(role_s3.exceptions.ClientError) as denied:
            role_s3.get_object(Bucket="images", Key="a.png")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        assert s3.get_object(Bucket="images", Key="a.png")["Body"].read() == b"x"  # moto's keys: not checked
        assert role_ssm.get_parameter(Name="/p")["Parameter"]["Value"] == "images"  # not S3: not checked
        iam.delete_role_policy(RoleName="image", PolicyName="deny")
        assert role_s3.get_object(Bucket="images", Key="a.png")["Body"].read() == b"x"  # the Allow holds
    assert free_calls == moto_settings.INITIAL_NO_AUTH_ACTION_COUNT  # put back


def test_only_temporary_credentials_of_a_role_session_are_checked():
    signed = "AWS4-HMAC-SHA256 Credential={}/20261202/us-west-2/s3/aws4_request, SignedHeaders=host, Signature=x"
    assert access_control.role_session({"Authorization": signed.format("ASIAEXAMPLE123")})
    assert not access_control.role_session({"Authorization": signed.format("testing")})
    assert not access_control.role_session({})


# ------------------------------------------------------------------------------------------ own sessions
def test_each_container_keeps_its_own_boto3_default_session_and_the_process_gets_its_own_back():
    process = boto3.DEFAULT_SESSION
    first, second = (runtime.Container(lambda e, c: None, {}, {}, "stream") for _ in range(2))
    with runtime.own_default_session(first):
        boto3.setup_default_session(region_name=REGION)
        made = boto3.DEFAULT_SESSION
    with runtime.own_default_session(second):
        assert boto3.DEFAULT_SESSION is None  # not the first container's
    with runtime.own_default_session(first):
        assert boto3.DEFAULT_SESSION is made
    assert first.boto3_session is made and second.boto3_session is None
    assert boto3.DEFAULT_SESSION is process


# ------------------------------------------------------------------------------------------ SetAlarmState runs actions
class RecordingRuntime:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def invoke(self, name: str, event: dict):
        self.calls.append((name, event))
        return {"action": "inject"}


def test_a_state_set_by_someone_else_runs_the_alarms_actions_once_per_setting(aws_mock):
    clients = {s: boto3.client(s, region_name=REGION) for s in ("cloudwatch", "lambda", "iam")}
    cloudwatch, lam = clients["cloudwatch"], clients["lambda"]
    role = clients["iam"].create_role(RoleName="r", AssumeRolePolicyDocument=ROLE_TRUST)["Role"]["Arn"]
    function = lam.create_function(
        FunctionName="fault", Runtime="python3.13", Role=role, Handler="handler.handler", Code={"ZipFile": b"PK"}
    )["FunctionArn"]
    cloudwatch.put_metric_alarm(
        AlarmName="trigger", Namespace="AWS/Lambda", MetricName="Invocations", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=3, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", AlarmActions=[function],
    )  # fmt: skip
    arn = cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]["AlarmArn"]
    lam.add_permission(
        FunctionName="fault", StatementId="alarm", Action="lambda:InvokeFunction",
        Principal=alarms.ALARM_PRINCIPAL, SourceArn=arn, SourceAccount=ACCOUNT,
    )  # fmt: skip
    recording = RecordingRuntime()
    evaluator = alarms.AlarmEvaluator(
        alarm_names=["trigger"], clients=clients, runtime=recording, account=ACCOUNT, region=REGION,
        minute=5, tick=1,
    )  # fmt: skip
    evaluator.evaluate_all()  # no traffic: OK, no action
    assert recording.calls == []
    cloudwatch.set_alarm_state(AlarmName="trigger", StateValue="ALARM", StateReason="game day")
    evaluator.evaluate_all()
    assert [name for name, _ in recording.calls] == ["fault"]
    assert recording.calls[0][1]["alarmData"]["state"]["value"] == "ALARM"
    assert recording.calls[0][1]["alarmData"]["previousState"]["value"] == "OK"
    # OK then ALARM again between two ticks (as the seed's inject does when it finds ALARM): a change, run again.
    cloudwatch.set_alarm_state(AlarmName="trigger", StateValue="OK", StateReason="game day")
    cloudwatch.set_alarm_state(AlarmName="trigger", StateValue="ALARM", StateReason="game day")
    evaluator.evaluate_all()
    assert [name for name, _ in recording.calls] == ["fault", "fault"]
    evaluator.evaluate_all()  # evaluated again: back to OK (no traffic), no further ALARM action
    evaluator.evaluate_all()
    assert [name for name, _ in recording.calls] == ["fault", "fault"]
    assert cloudwatch.describe_alarms(AlarmNames=["trigger"])["MetricAlarms"][0]["StateValue"] == "OK"


def test_settling_waits_for_a_whole_tick_that_began_after_the_call(aws_mock):
    clients = {s: boto3.client(s, region_name=REGION) for s in ("cloudwatch", "lambda")}
    evaluator = alarms.AlarmEvaluator(
        alarm_names=[], clients=clients, runtime=RecordingRuntime(), account=ACCOUNT, region=REGION,
        minute=5, tick=0.01,
    )  # fmt: skip
    assert not evaluator.settle(timeout=0.05)  # not started: no tick ever ends
    evaluator.start()
    try:
        before = evaluator.ticks
        assert evaluator.settle(timeout=10)
        assert evaluator.ticks >= before + 2
    finally:
        evaluator.stop()
