"""The FIS scenarios (function_latency, function_errors) in moto, in this process: inject records first, starts
the experiment and waits until it runs; restore stops it and waits until the configuration is gone; an
experiment that ended by itself leaves nothing to undo; a crash at any point loses nothing. `traffic`'s
bounds, summary and arming. The stand-in for FIS's lifecycle is tests/fis_fixtures.py.
"""

from __future__ import annotations

import io
import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ACCOUNT, REGION, new_session
from fis_fixtures import FisStandIn, add_fis, experiments, frozen_experiments, set_status

from drill import cli, outputs
from drill.aws import Clients
from drill.errors import DrillError, UsageError
from drill.scenarios import fis, inject, restore
from drill.scenarios import record as store
from drill.scenarios.catalogue import BY_NAME
from drill.scenarios.model import PAUSE_VARIABLE
from drill.stack import StackOutputs
from drill.steps import Drill, Probe
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
    }
    add_fis(clients, values, PREFIX)
    return values


@pytest.fixture
def world(aws_mock) -> Iterator[dict[str, Any]]:
    with frozen_experiments():
        clients = Clients(new_session())
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
    world["clients"].client("fis").meta.events.register("before-call.fis", lambda model, **_: calls.append(model.name))
    done = restore(make_drill(world), **FAST)
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
