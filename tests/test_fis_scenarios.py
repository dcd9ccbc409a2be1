"""The FIS scenarios (function_latency, function_errors) in moto, in this process: inject records first, starts
the experiment and waits until it runs; restore stops it and waits until the configuration is gone; an
experiment that ended by itself leaves nothing to undo; a crash at any point loses nothing. `traffic`'s
bounds, summary and arming. The stand-in for FIS's lifecycle is tests/fis_fixtures.py.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, new_session, shared_session
from drill_fixtures import moto_server  # noqa: F401  (fixture)
from fis_fixtures import FisStandIn, add_fis, experiments, frozen_experiments, set_status
from gameday_fixtures import drill_elsewhere, kill_when_paused

from drill import cli, outputs
from drill.aws import Clients
from drill.errors import DrillError, UsageError
from drill.scenarios import fis, inject, restore
from drill.scenarios import gameday as gameday_module
from drill.scenarios import record as store
from drill.scenarios.catalogue import BY_NAME
from drill.scenarios.gameday import gameday
from drill.scenarios.model import PAUSE_VARIABLE
from drill.scenarios.traffic import percentile, traffic
from drill.scenarios.trigger import trigger_scenario
from drill.stack import StackOutputs
from drill.steps import Drill, Probe, StepResult
from drill.steps.model import Timeline

PREFIX = "fis-drill"
FAST = {"timeout": 30, "interval": 1}  # on the stand-in's clock: no real time passes
INVOCATIONS_ALARM = f"{PREFIX}-invocations"


def _alarm(cloudwatch: Any, name: str, metric: str, namespace: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace=namespace,
        MetricName=metric,
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        ActionsEnabled=True,
        AlarmActions=[f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{PREFIX}-fault"],
    )


def fis_outputs(clients: Clients) -> dict[str, str]:
    """What the drill reads of a stack deployed with fisEnabled=true, in moto: the record table, the
    invocations, latency and errors alarms, the two templates and the configuration location."""
    table = f"{PREFIX}-drill-records"
    clients.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": store.KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": store.KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    clients.s3.create_bucket(Bucket=f"{PREFIX}-images", CreateBucketConfiguration={"LocationConstraint": REGION})
    cloudwatch = clients.cloudwatch
    _alarm(cloudwatch, INVOCATIONS_ALARM, "Invocations", "AWS/Lambda")
    _alarm(cloudwatch, f"{PREFIX}-api-latency-alarm", "Latency", "AWS/ApiGateway")
    _alarm(cloudwatch, f"{PREFIX}-image-api-errors", "Errors", "AWS/Lambda")
    values = {
        outputs.RECORD_TABLE: table,
        outputs.INVOCATIONS_ALARM: INVOCATIONS_ALARM,
        outputs.FAULT_FUNCTION: f"{PREFIX}-fault",
        outputs.LATENCY_ALARM: f"{PREFIX}-api-latency-alarm",
        outputs.ERRORS_ALARM: f"{PREFIX}-image-api-errors",
        outputs.IMAGE_FUNCTION: f"{PREFIX}-image-api",
        outputs.BUCKET: f"{PREFIX}-images",
        outputs.IMAGE_ROLE: f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-image",
        outputs.PARAMETER: f"/{PREFIX}/bucket-name",  # the investigator's (gameday) target; none exists here
    }
    add_fis(clients, values, PREFIX)
    return values


@pytest.fixture(scope="module")
def module_clients() -> Clients:
    """The drill's clients, made once for the module (each test's moto is its own: conftest `aws_mock`)."""
    return Clients(shared_session())


@pytest.fixture
def world(aws_mock, module_clients) -> Iterator[dict[str, Any]]:
    with frozen_experiments():
        clients = module_clients
        values = fis_outputs(clients)
        stand_in = FisStandIn(clients.s3, values[outputs.FIS_CONFIGURATION_LOCATION])
        yield {"clients": clients, "outputs": values, "fis": stand_in}


def make_drill(world: dict[str, Any], *, values: dict[str, str] | None = None, probe=None) -> Drill:
    stand_in: FisStandIn = world["fis"]
    drill = Drill(
        outputs=StackOutputs(values=dict(values or world["outputs"]), origin="the test stack"),
        clients=world["clients"],
        account=ACCOUNT,
        region=REGION,
        api_probe=probe or (lambda: Probe(200, 1.0)),
        function_caller=lambda *_: None,
        clock=stand_in.clock,
        sleep=stand_in,
    )
    Timeline(drill)
    return drill


def armed(world) -> bool:
    alarm = world["clients"].cloudwatch.describe_alarms(AlarmNames=[INVOCATIONS_ALARM])["MetricAlarms"][0]
    return bool(alarm["ActionsEnabled"])


def configuration(world) -> list[str]:
    bucket = world["outputs"][outputs.FIS_CONFIGURATION_LOCATION].removeprefix("arn:aws:s3:::").split("/")[0]
    return [o["Key"] for o in world["clients"].s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def records(world) -> dict[str, store.Record]:
    items = world["clients"].client("dynamodb").scan(TableName=world["outputs"][outputs.RECORD_TABLE])["Items"]
    return {item[store.KEY]["S"]: store.Record.from_item(item) for item in items}


@pytest.mark.parametrize("name", [fis.LATENCY, fis.ERRORS])
def test_inject_records_starts_and_waits_until_running_then_restore_stops_it(world, name):
    drill = make_drill(world)
    result = inject(drill, name, **FAST)
    assert result.ok and not result.data["already"]
    experiment_id = result.data["experiment"]
    template = world["outputs"][fis.TEMPLATE_OUTPUT[name]]
    started = experiments()[experiment_id]
    assert started.experiment_template_id == template and started.status == "running"
    assert world["clients"].client("fis").list_tags_for_resource(resourceArn=started.arn)["tags"] == {
        fis.TAG_BY: "python -m drill inject",
        fis.TAG_SCENARIO: name,
        fis.TAG_TOKEN: result.data["client_token"],
    }
    recorded = records(world)[name]
    assert recorded.injected == {
        "template": template,
        "client_token": result.data["client_token"],
        "experiment": experiment_id,
    }
    assert recorded.prior is None and recorded.armed is True
    assert not armed(world)  # disarmed while the scenario is active
    assert configuration(world)  # the stand-in wrote FIS's configuration

    done = restore(make_drill(world), **FAST)
    assert done.ok, done.lines
    assert [(s["name"], s["outcome"]) for s in done.data["scenarios"]] == [(name, "restored")]
    assert experiments()[experiment_id].status == "stopped"
    assert configuration(world) == [] and records(world) == {}
    assert armed(world)  # put back by the re-arm rule (moto's alarm is OK with no datapoints)
    text = "\n".join(done.lines)
    assert "stopping experiment" in text and "ramp-down" in text


def test_injecting_twice_records_once_and_starts_one_experiment(world):
    first = inject(make_drill(world), fis.LATENCY, **FAST)
    again = inject(make_drill(world), fis.LATENCY, **FAST)
    assert again.ok and again.data["already"] and "recorded once" in again.summary
    assert again.data["experiment"] == first.data["experiment"]
    assert list(experiments()) == [first.data["experiment"]]
    assert list(records(world)) == [fis.LATENCY]
    assert restore(make_drill(world), **FAST).ok


@pytest.mark.parametrize("ended", ["completed", "stopped"])
def test_an_experiment_that_ended_by_itself_leaves_nothing_to_undo(world, ended):
    """Completed (its duration is over) or stopped by a stop condition: restore stops nothing, says so."""
    result = inject(make_drill(world), fis.ERRORS, **FAST)
    experiment_id = result.data["experiment"]
    set_status(experiment_id, ended)
    world["clients"].s3.delete_object(Bucket=f"{PREFIX}-fis-config", Key=f"FisConfigs/{experiment_id}.json")
    calls: list[str] = []
    events = world["clients"].client("fis").meta.events

    def called(model, **_) -> None:
        calls.append(model.name)

    events.register("before-call.fis", called)
    try:
        done = restore(make_drill(world), **FAST)
    finally:
        events.unregister("before-call.fis", called)  # the module's client serves the next tests too
    assert done.ok
    assert [s["outcome"] for s in done.data["scenarios"]] == ["nothing to undo"]
    assert f"experiment {experiment_id} {ended}" in "\n".join(done.lines) and "by itself" in "\n".join(done.lines)
    assert "StopExperiment" not in calls
    assert records(world) == {} and armed(world)


def test_a_start_that_never_runs_is_an_error_and_the_record_names_the_experiment(world):
    world["fis"].hold = True  # FIS never gets the experiment past pending
    with pytest.raises(DrillError, match="still pending after 30s.*run `restore`"):
        inject(make_drill(world), fis.LATENCY, **FAST)
    [experiment_id] = experiments()
    assert records(world)[fis.LATENCY].injected["experiment"] == experiment_id
    world["fis"].hold = False
    assert restore(make_drill(world), **FAST).ok
    assert experiments()[experiment_id].status == "stopped" and records(world) == {}


def test_a_start_that_fails_is_an_error_and_restore_then_has_nothing_to_undo(world):
    drill = make_drill(world)
    world["fis"].hold = True
    stop_it = world["fis"].then = lambda _s: [set_status(e, "failed") for e in experiments()]
    assert stop_it
    with pytest.raises(DrillError, match="failed.*ended; the record names it"):
        inject(drill, fis.ERRORS, **FAST)
    done = restore(make_drill(world), **FAST)
    assert done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["nothing to undo"]


def test_killed_between_the_record_and_the_start_restore_finds_no_experiment(world):
    """What a crash right after the record leaves (the kill -9 itself: the e2e test below)."""
    drill = make_drill(world)
    token = "aiops-drill-function_latency-1"
    template = world["outputs"][outputs.FIS_LATENCY_TEMPLATE]
    injected = {"template": template, "client_token": token, "experiment": None}
    store.put_new(drill, store.new_record(fis.LATENCY, None, injected, True))
    done = restore(make_drill(world), **FAST)
    assert done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["nothing to undo"]
    assert "no experiment was started" in "\n".join(done.lines) and records(world) == {}


def test_killed_between_the_start_and_the_id_restore_finds_it_by_the_token_and_a_retry_reuses_it(world):
    drill = make_drill(world)
    token = "aiops-drill-function_latency-2"
    template = world["outputs"][outputs.FIS_LATENCY_TEMPLATE]
    store.put_new(
        drill,
        store.new_record(fis.LATENCY, None, {"template": template, "client_token": token, "experiment": None}, True),
    )
    started = drill.clients.client("fis").start_experiment(
        clientToken=token, experimentTemplateId=template, tags={fis.TAG_TOKEN: token}
    )["experiment"]["id"]
    again = inject(make_drill(world), fis.LATENCY, **FAST)  # the same token: FIS answers with the same experiment
    assert again.data["experiment"] == started and list(experiments()) == [started]
    assert records(world)[fis.LATENCY].injected["experiment"] == started
    # Forget the id again: restore finds it by the token's tag.
    store.replace_injected(
        drill,
        store.Record(
            **{
                **records(world)[fis.LATENCY].__dict__,
                "injected": {"template": template, "client_token": token, "experiment": None},
            }
        ),
    )
    done = restore(make_drill(world), **FAST)
    assert done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["restored"]
    assert experiments()[started].status == "stopped"


def test_without_the_fis_outputs_the_scenarios_are_unavailable_with_the_reason(world, tmp_path):
    values = {k: v for k, v in world["outputs"].items() if k not in outputs.FIS}
    for name in (fis.LATENCY, fis.ERRORS):
        with pytest.raises(UsageError, match="fisEnabled=false"):
            inject(make_drill(world, values=values), name, **FAST)
        assert "fisEnabled=false" in BY_NAME[name].unavailable(make_drill(world, values=values))
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(values))
    err = io.StringIO()
    code = cli.main(
        ["inject", "--scenario", fis.LATENCY, "--outputs", str(path)],
        out=io.StringIO(),
        err=err,
        make=lambda *_: make_drill(world, values=values),
    )
    assert code == 2
    [line] = err.getvalue().splitlines()
    assert "function_latency cannot run on this stack" in line and "FisLatencyExperimentTemplateId" in line
    assert experiments() == {} and records(world) == {}


# ------------------------------------------------------------------------------------------------ traffic
class Answers:
    """The API stand-in: every fifth request slow and failing; records whether the alarm was armed."""

    def __init__(self, world) -> None:
        self.world, self.count, self.armed_seen = world, 0, set()
        self.lock = threading.Lock()

    def __call__(self) -> Probe:
        with self.lock:
            self.count += 1
            number = self.count
        self.armed_seen.add(armed(self.world))
        return Probe(502, 3000.0) if number % 5 == 0 else Probe(200, 40.0 + number % 3)


def test_traffic_sends_rps_for_duration_with_the_alarm_disarmed_and_keeps_the_safe_rearm_rule(world):
    """40 invocations in this period are above the alarm's threshold of 5: arming now could inject the seed's
    fault when the period is evaluated, so the rule leaves it disarmed and says how to arm it."""
    answers = Answers(world)
    progress: list[str] = []
    drill = make_drill(world, probe=answers)
    drill.progress = progress.append
    result = traffic(drill, rps=4, duration=10, rearm_timeout=30)
    assert answers.count == 40 and result.data["requests"] == 40
    assert result.data["statuses"] == {"200": 32, "502": 8}
    assert result.data["latency_ms"] == {"p50": 41.0, "p99": 3000.0}
    assert answers.armed_seen == {False}  # never armed while a request ran
    assert not armed(world) and f"left {INVOCATIONS_ALARM} DISARMED (not yet evaluated: 40 invocations" in (
        "\n".join(result.lines)
    )
    assert "40 requests (200 x32, 502 x8); latency p50 41 ms, p99 3000 ms" in result.summary
    assert any(line.startswith("traffic: 5/10s, ") for line in progress), progress


def test_traffic_interrupted_puts_the_arming_back_at_once(world):
    drill = make_drill(world, probe=Answers(world))
    sleeps = {"count": 0}
    clock = world["fis"]

    def sleep(seconds: float) -> None:
        sleeps["count"] += 1
        if sleeps["count"] == 3:
            raise KeyboardInterrupt
        clock(seconds)

    drill.sleep = sleep
    result = traffic(drill, rps=2, duration=60, rearm_timeout=30)
    # Fewer invocations than the threshold of 5: safe to arm again at once.
    assert isinstance(result.stopped, KeyboardInterrupt) and armed(world), result.lines
    assert "interrupted" in "\n".join(result.lines)


def test_traffic_leaves_a_disarmed_alarm_disarmed(world):
    """A scenario is active (it disarmed the alarm): traffic must not arm it."""
    world["clients"].cloudwatch.disable_alarm_actions(AlarmNames=[INVOCATIONS_ALARM])
    traffic(make_drill(world, probe=Answers(world)), rps=1, duration=2, rearm_timeout=30)
    assert not armed(world)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rps", "51", "--duration", "5"], "argument --rps: '51' must be a number greater than 0 and at most 50"),
        (["--rps", "5", "--duration", "3601"], "argument --duration: '3601' must be a number greater than 0"),
        (["--rps", "inf", "--duration", "5"], "argument --rps: 'inf' must be a number"),
        (["--rps", "5"], "the following arguments are required: --duration"),
        (["--duration", "5"], "the following arguments are required: --rps"),
    ],
)
def test_traffic_usage_errors_are_one_line_and_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["traffic", *argv])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and err.count("\n") == 1 and message in err, err


def test_traffic_from_the_cli_prints_the_summary(world, tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**world["outputs"], outputs.API_ENDPOINT: "https://example.invalid/prod/random"}))
    out = io.StringIO()
    code = cli.main(
        ["traffic", "--rps", "2", "--duration", "3", "--outputs", str(path), "--json"],
        out=out,
        err=io.StringIO(),
        make=lambda *_: make_drill(world, probe=Answers(world)),
    )
    assert code == 0
    report = json.loads(out.getvalue())
    assert report["step"] == "traffic" and report["requests"] == 6 and report["statuses"] == {"200": 5, "502": 1}


# ------------------------------------------------------------------------------------------------ kill -9
@pytest.fixture
def served(moto_server, monkeypatch) -> Iterator[dict[str, Any]]:  # noqa: F811
    """The FIS stack in a moto server of this process (a `python -m drill` subprocess reaches it by HTTP, the
    test reaches moto's experiments directly), reset first."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST")).close()  # noqa: S310
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with frozen_experiments():
        clients = Clients(new_session())
        values = fis_outputs(clients)
        stand_in = FisStandIn(clients.s3, values[outputs.FIS_CONFIGURATION_LOCATION])
        yield {"clients": clients, "outputs": values, "fis": stand_in, "endpoint": moto_server}


def killed_at(served, tmp_path, point: str, name: str) -> None:
    """`python -m drill inject --scenario NAME` in another process, killed with SIGKILL at `point`."""
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(served["outputs"]))
    process = drill_elsewhere(
        ["inject", "--scenario", name, "--outputs", str(path)],
        served["endpoint"],
        tmp_path / point,
        {PAUSE_VARIABLE: point},
    )
    kill_when_paused(process, point)


@pytest.mark.e2e
def test_kill_9_right_after_the_record_loses_nothing(served, tmp_path):
    killed_at(served, tmp_path, "recorded", fis.ERRORS)
    assert experiments() == {} and list(records(served)) == [fis.ERRORS]
    assert armed(served) and records(served)[fis.ERRORS].armed  # killed before it disarmed the alarm
    done = restore(make_drill(served), **FAST)
    assert done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["nothing to undo"]
    assert records(served) == {} and armed(served)


@pytest.mark.e2e
def test_kill_9_right_after_the_start_loses_nothing(served, tmp_path):
    """Killed after StartExperiment, before the id reached the record: restore finds it by its token."""
    killed_at(served, tmp_path, "changed", fis.LATENCY)
    [experiment_id] = experiments()
    assert records(served)[fis.LATENCY].injected["experiment"] is None
    done = restore(make_drill(served), **FAST)
    assert done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["restored"], done.lines
    assert experiments()[experiment_id].status == "stopped"
    assert records(served) == {} and armed(served)


# ------------------------------------------------------------------------------------------------ trigger
def alarm_after(world, name: str, requests: int):
    """An API that answers 200, and CloudWatch's part: `name` goes to ALARM once `requests` were made."""
    answers = Answers(world)
    fired = threading.Event()

    def probe() -> Probe:
        answer = answers()
        with answers.lock:
            due = answers.count >= requests and not fired.is_set()
            if due:
                fired.set()
        if due:
            world["clients"].cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test: p99")
        return answer

    return probe, answers


def test_trigger_keeps_traffic_running_until_the_latency_alarm_fires(world):
    alarm = world["outputs"][outputs.LATENCY_ALARM]
    probe, answers = alarm_after(world, alarm, 30)
    drill = make_drill(world, probe=probe)
    result, cleanup = trigger_scenario(drill, fis.LATENCY, timeout=120, interval=10, restore_timeout=60)
    assert result.ok and cleanup is None, result.summary
    assert f"alarm {alarm} is ALARM under traffic" in "\n".join(result.lines)
    assert 30 <= answers.count <= 40  # it stopped after the round in which the alarm fired
    assert answers.armed_seen == {False}
    assert records(world)[fis.LATENCY].injected["experiment"] in experiments()
    assert restore(make_drill(world), **FAST).ok


def test_trigger_without_the_alarm_times_out_and_restores(world):
    drill = make_drill(world, probe=Answers(world))
    result, cleanup = trigger_scenario(drill, fis.ERRORS, timeout=30, interval=10, restore_timeout=60)
    assert not result.ok and "waiting for the symptom of function_errors" in result.summary
    assert "no alarm of" in result.summary and cleanup is not None and cleanup.ok
    [experiment] = experiments().values()
    assert experiment.status == "stopped" and records(world) == {}


def test_both_experiments_at_once_are_stopped_before_restore_waits_for_their_shared_configuration(world):
    """Both write under the one configuration folder: stopping them one after the other, the first would wait
    for the second's configuration until the timeout."""
    ids = [inject(make_drill(world), name, **FAST).data["experiment"] for name in (fis.LATENCY, fis.ERRORS)]
    assert len(configuration(world)) == 2
    compressed = make_drill(world)
    compressed.period_length = lambda seconds: seconds / 10  # a stand-in's clock (the rehearsal's minutes)
    done = restore(compressed, **FAST)
    assert done.ok, done.lines
    assert "waiting 2s for the extension's ramp-down" in "\n".join(done.lines)  # 20 s on the stack's clock
    assert {s["name"]: s["outcome"] for s in done.data["scenarios"]} == {
        fis.LATENCY: "restored",
        fis.ERRORS: "restored",
    }
    assert {experiments()[i].status for i in ids} == {"stopped"} and configuration(world) == [] and records(world) == {}


def test_an_experiment_stuck_stopping_keeps_its_record_and_fails_the_restore(world):
    """Its configuration gone (FIS removed it) but the experiment not stopped by the timeout: not done."""
    experiment_id = inject(make_drill(world), fis.LATENCY, **FAST).data["experiment"]
    world["fis"].hold = True
    world["clients"].s3.delete_object(Bucket=f"{PREFIX}-fis-config", Key=f"FisConfigs/{experiment_id}.json")
    done = restore(make_drill(world), **FAST)
    assert not done.ok and [s["outcome"] for s in done.data["scenarios"]] == ["failed"]
    assert f"experiment {experiment_id} stopping (Experiment is stopping) at the timeout; the record stays" in (
        "\n".join(done.lines)
    )
    assert list(records(world)) == [fis.LATENCY] and not armed(world)  # still active: the alarm stays disarmed


def test_the_experiment_id_never_overwrites_a_record_restored_meanwhile(world):
    drill = make_drill(world)
    first = store.new_record(fis.LATENCY, None, {"experiment": None}, True)
    store.put_new(drill, first)
    store.delete(drill, fis.LATENCY)  # a restore from elsewhere
    with pytest.raises(DrillError, match="changed while it was injected"):
        store.replace_injected(drill, replace(first, injected={"experiment": "EXP1"}))
    assert records(world) == {}
    second = store.put_new(drill, store.new_record(fis.LATENCY, None, {"experiment": None}, False))
    with pytest.raises(DrillError, match="changed while it was injected"):
        store.replace_injected(drill, replace(first, injected={"experiment": "EXP1"}))
    assert records(world)[fis.LATENCY] == second


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(10, 0, -1)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (5.0, 9.0, 10.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_a_game_day_of_a_fis_scenario_waits_for_its_alarm_under_traffic_and_restores(world, monkeypatch):
    """The investigator's FIS kinds are another test's (tests/test_drill_investigator*.py): here it answers."""
    report = SimpleNamespace(root_cause=SimpleNamespace(kind="fis_latency_injected"))
    monkeypatch.setattr(
        gameday_module, "investigate_step", lambda *_a, **_k: (StepResult("investigate", True, 0.1, ""), report)
    )
    alarm = world["outputs"][outputs.LATENCY_ALARM]
    probe, answers = alarm_after(world, alarm, 20)
    shown: list[str] = []
    result = gameday(
        make_drill(world, probe=probe),
        choice=fis.LATENCY,
        answer="fis_latency_injected",
        ask=lambda _prompt: pytest.fail("--answer was given"),
        show=shown.append,
        timeout=120,
        interval=10,
        restore_timeout=60,
    )
    assert answers.count >= 20 and f"alarm {alarm}: ALARM" in shown, shown
    assert result.data["participants"]["hit"] and result.data["investigator"]["hit"], result.data
    assert result.data["restore"]["ok"], result.data
    [experiment] = experiments().values()
    assert experiment.status == "stopped" and records(world) == {}
