"""Partial faults in the investigator (issue 20 §3): latency as a symptom, the FIS kinds, partial error rates.

The program's stack is built in moto (in process) and given what `fisEnabled=true` deploys that the drill reads:
a configuration bucket, the two experiment templates aimed at the image function, and their outputs. moto runs
the experiment lifecycle (StartExperiment, GetExperiment, ListExperiments, StopExperiment) but no action, so the
symptoms are written as API Gateway and Lambda write them. moto has no percentiles (GetMetricStatistics ignores
ExtendedStatistics): those answers come from botocore's Stubber against the real CloudWatch model.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.stub import Stubber
from conftest import moto_clients, new_session
from drill_fixtures import ACCOUNT, REGION, MotoStack, build_stack, inject_fault_like_the_fault_function
from test_drill_collectors import TARGET, item

from drill import outputs as contract
from drill.aws import Clients
from drill.investigator import Report, investigate, resolve_target
from drill.investigator.collectors import COLLECTORS, cloudtrail, latency
from drill.investigator.collectors._base import Scope
from drill.investigator.collectors.latency import Series
from drill.investigator.evidences import Evidences
from drill.investigator.model import Window
from drill.investigator.ranking import conclude

pytestmark = pytest.mark.e2e  # investigations of the program's whole stack in moto: the `.ci/run` e2e step

# Every source but the three moto lacks or these cases do not need (as in test_drill_investigator_v3.py).
IN_MOTO = [(name, collect) for name, collect in COLLECTORS if name not in ("cloudtrail", "alarm_history", "tags")]
EXPERIMENT = "fis::experiment"  # moto's state-transition model name for experiments


@pytest.fixture(scope="module")
def moto() -> Iterator[Clients]:
    from moto.moto_api import state_manager

    with moto_clients() as clients:
        yield clients
        state_manager.unset_transition(EXPERIMENT)


# ------------------------------------------------------------------------------------------ the FIS stack
def fis_stack(moto: Clients, prefix: str, *, fis: bool = True) -> MotoStack:
    """The program's stack; with `fis`, what fisEnabled=true adds that the investigator reads."""
    stack = build_stack(None, f"aiops-fis-{prefix}", images=4, fault_chain=False, tls_only_policy=False)
    if not fis:
        return stack
    config = f"{stack.prefix}-fis-config"
    stack.client("s3").create_bucket(Bucket=config, CreateBucketConfiguration={"LocationConstraint": REGION})
    function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack.function}"
    actions = {
        contract.FIS_LATENCY_TEMPLATE: (
            "aws:lambda:invocation-add-delay",
            {"duration": "PT5M", "invocationPercentage": "20", "startupDelayMilliseconds": "3000"},
        ),
        contract.FIS_ERRORS_TEMPLATE: (
            "aws:lambda:invocation-error",
            {"duration": "PT5M", "invocationPercentage": "20", "preventExecution": "true"},
        ),
    }
    for output, (action, parameters) in actions.items():
        template = moto.client("fis").create_experiment_template(
            clientToken=f"{stack.prefix}-{output}",
            description=output,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/{stack.prefix}-fis",
            stopConditions=[{"source": "none"}],
            targets={
                "Functions": {
                    "resourceType": "aws:lambda:function",
                    "resourceArns": [function_arn],
                    "selectionMode": "ALL",
                }
            },
            actions={"inject": {"actionId": action, "parameters": parameters, "targets": {"Functions": "Functions"}}},
        )
        stack.outputs[output] = template["experimentTemplate"]["id"]
    stack.outputs[contract.FIS_CONFIGURATION_LOCATION] = f"arn:aws:s3:::{config}/FisConfigs/"
    return stack


def start(moto: Clients, stack: MotoStack, output: str, *, configuration: bool = True) -> str:
    """Start the experiment as the drill does and bring it to `running` (moto advances one state per
    GetExperiment); then hold it there. With `configuration`, write a configuration object, as FIS does."""
    from moto.moto_api import state_manager

    fis = moto.client("fis")
    state_manager.set_transition(EXPERIMENT, {"progression": "manual", "times": 1})
    experiment = fis.start_experiment(
        experimentTemplateId=stack.outputs[output], clientToken=f"{stack.prefix}-{output}"
    )
    identifier = experiment["experiment"]["id"]
    while fis.get_experiment(id=identifier)["experiment"]["state"]["status"] != "running":
        pass
    state_manager.set_transition(EXPERIMENT, {"progression": "manual", "times": 10**9})  # the investigation's reads
    if configuration:
        bucket = stack.outputs[contract.FIS_CONFIGURATION_LOCATION].removeprefix("arn:aws:s3:::").split("/")[0]
        stack.client("s3").put_object(Bucket=bucket, Key=f"FisConfigs/{identifier}.json", Body=b"{}")
    return identifier


def stop(moto: Clients, identifier: str) -> None:
    """Stop it and let it reach `stopped` (its end time set), as restore does."""
    from moto.moto_api import state_manager

    fis = moto.client("fis")
    state_manager.set_transition(EXPERIMENT, {"progression": "manual", "times": 1})
    fis.stop_experiment(id=identifier)
    while fis.get_experiment(id=identifier)["experiment"]["state"]["status"] != "stopped":
        pass
    state_manager.set_transition(EXPERIMENT, {"progression": "manual", "times": 10**9})


# ------------------------------------------------------------------------------------------ symptoms, by minute
def put(stack: MotoStack, now: datetime, namespace: str, dims: dict[str, str], minutes_ago: float, **values: float):
    stack.client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": now - timedelta(minutes=minutes_ago),
                "Value": value,
                "Unit": "Milliseconds" if name in ("Latency", "IntegrationLatency", "Duration") else "Count",
            }
            for name, value in values.items()
        ],
    )


def api(stack: MotoStack, now: datetime, minutes_ago: float, **values: float) -> None:
    put(stack, now, "AWS/ApiGateway", {"ApiName": stack.api_name, "Stage": "prod"}, minutes_ago, **values)


def function(stack: MotoStack, now: datetime, minutes_ago: float, **values: float) -> None:
    put(stack, now, "AWS/Lambda", {"FunctionName": stack.function}, minutes_ago, **values)


def baseline(stack: MotoStack, now: datetime, ms: float = 120) -> None:
    """A quiet hour before the 30-minute window: steady traffic at `ms`."""
    for minutes in range(40, 50):
        api(stack, now, minutes, Count=60, Latency=ms + 20, IntegrationLatency=ms)
        function(stack, now, minutes, Invocations=60, Duration=ms - 20)


def slow(stack: MotoStack, now: datetime, minutes: tuple[float, ...] = (3, 2, 1), ms: float = 3100) -> None:
    """Every request answered, the average pulled up by a delayed share."""
    for minute in minutes:
        api(stack, now, minute, Count=60, Latency=ms + 20, IntegrationLatency=ms)
        function(stack, now, minute, Invocations=60, Duration=ms - 20)


def failing(stack: MotoStack, now: datetime, share: float = 0.2, minutes: tuple[float, ...] = (3, 2, 1)) -> None:
    """`share` of the requests fail (5XX; Lambda Errors), the rest succeed at the usual speed."""
    for minute in minutes:
        api(stack, now, minute, Count=100, **{"5XXError": 100 * share}, Latency=140, IntegrationLatency=120)
        function(stack, now, minute, Invocations=100, Errors=100 * share, Duration=100)


def run(moto: Clients, stack: MotoStack, now: datetime) -> Report:
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    return investigate(moto, target, now=now, collectors=IN_MOTO)


def of(report: Report, source: str) -> list:
    return [e for e in report.evidence if e.source == source]


# ------------------------------------------------------------------------------------------ §3 the FIS kinds
def test_latency_with_an_experiment_is_fis_latency_injected(moto):
    stack = fis_stack(moto, "latency")
    identifier = start(moto, stack, contract.FIS_LATENCY_TEMPLATE)
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    report = run(moto, stack, now)

    assert report.status == "fault"
    root = report.root_cause
    assert root.kind == "fis_latency_injected"
    assert root.resource == stack.function
    assert identifier in root.summary and "3000 ms delay" in root.summary and "20%" in root.summary
    [experiment] = [e for e in of(report, "experiments") if e.facts.get("experiment")]
    assert experiment.facts["active"] and experiment.facts["targets_function"] is True
    assert experiment.id in root.evidence
    risen = [e for e in of(report, "latency") if e.facts["rise"]]
    assert {e.facts["metric"] for e in risen} == {"api_latency", "api_integration_latency", "fn_duration"}
    assert {e.id for e in risen} <= set(root.evidence)
    # moto gives no percentiles: the evidence says the Average decided, and why that is weaker.
    assert all(e.facts["statistic"] == "Average" and "gave no p99" in e.detail for e in risen)
    [configuration] = [e for e in of(report, "experiments") if e.facts.get("configuration")]
    assert configuration.id in root.evidence
    assert root.confidence == 0.85  # active experiment 0.6, latency observed +0.2, symptoms +0.05 (no CloudTrail)
    assert report.remediation[:2] == ("python -m drill restore", f"aws fis stop-experiment --id {identifier}")
    assert "slow responses" in report.impact_path[-1]


def test_errors_with_an_experiment_are_fis_errors_injected_with_their_share(moto):
    stack = fis_stack(moto, "errors")
    identifier = start(moto, stack, contract.FIS_ERRORS_TEMPLATE)
    now = datetime.now(UTC)
    baseline(stack, now)
    failing(stack, now, share=0.2)
    report = run(moto, stack, now)

    assert report.status == "fault"
    root = report.root_cause
    assert root.kind == "fis_errors_injected"
    assert identifier in root.summary
    assert "60 Errors of 300 invocations (20%)" in root.summary  # the share seen, next to the 20% planned
    assert "without running the handler" in root.summary  # preventExecution: no error lines of its own
    assert {e.id for e in of(report, "metrics") if e.facts["metric"] in ("fn_errors", "api_5xx")} <= set(root.evidence)
    assert "fis_latency_injected" not in {h.kind for h in report.hypotheses}  # no latency experiment runs


def test_an_experiment_that_just_ended_explains_the_symptoms_it_left_and_one_long_over_does_not(moto):
    stack = fis_stack(moto, "ended")
    identifier = start(moto, stack, contract.FIS_LATENCY_TEMPLATE, configuration=False)
    stop(moto, identifier)
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    report = run(moto, stack, now)
    assert report.root_cause.kind == "fis_latency_injected"
    assert "ended" in report.root_cause.summary
    assert report.root_cause.confidence == 0.7  # just ended 0.45, latency +0.2, symptoms +0.05
    assert report.remediation[0].startswith("# the experiment has ended: nothing to stop")

    # Without its effect in the metrics the ended experiment is only a weak hypothesis: the stack is healthy.
    quiet = fis_stack(moto, "ended-quiet")
    stop(moto, start(moto, quiet, contract.FIS_LATENCY_TEMPLATE, configuration=False))
    now = datetime.now(UTC)
    baseline(quiet, now)
    report = run(moto, quiet, now)
    assert report.status == "healthy"
    assert [(h.kind, h.confidence) for h in report.hypotheses] == [("fis_latency_injected", 0.45)]

    # Ended before the last minutes: it explains nothing now, and the latency rise stays unexplained.
    later = now + timedelta(minutes=6)
    assert run(moto, quiet, later).status == "healthy"
    slow(quiet, later)
    assert run(moto, quiet, later).root_cause.kind == "unknown"


# ------------------------------------------------------------------------------------------ §3 cause and symptom
def elsewhere(moto: Clients, stack: MotoStack) -> None:
    """A running latency experiment on another function of the account: not the image function's fault."""
    other = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{stack.function}-other"
    template = moto.client("fis").create_experiment_template(
        clientToken=f"{stack.prefix}-other",
        description="another team's experiment",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/other-fis",
        stopConditions=[{"source": "none"}],
        targets={"Functions": {"resourceType": "aws:lambda:function", "resourceArns": [other], "selectionMode": "ALL"}},
        actions={
            "inject": {
                "actionId": "aws:lambda:invocation-add-delay",
                "parameters": {"duration": "PT5M", "invocationPercentage": "50", "startupDelayMilliseconds": "900"},
                "targets": {"Functions": "Functions"},
            }
        },
    )
    stack.outputs["OtherTemplate"] = template["experimentTemplate"]["id"]
    start(moto, stack, "OtherTemplate", configuration=False)


def test_latency_without_an_experiment_or_a_change_is_unknown_with_latencys_hypotheses(moto):
    aimed_elsewhere = fis_stack(moto, "no-exp")
    elsewhere(moto, aimed_elsewhere)
    for stack in (aimed_elsewhere, fis_stack(moto, "no-fis", fis=False)):
        now = datetime.now(UTC)
        baseline(stack, now)
        slow(stack, now)
        report = run(moto, stack, now)
        assert report.status == "fault"  # slow answers now are not a recovery, though every request succeeds
        assert report.root_cause.kind == "unknown"
        assert {h.kind for h in report.hypotheses} == {"unknown"}  # never a guessed cause
        assert [h.resource for h in report.hypotheses[1:]] == [
            "cold starts (new execution environments)",
            "slower calls to S3 or SSM, or larger images",
            "an AWS service event (Lambda, API Gateway, S3, SSM)",
        ]
        assert {e.id for e in of(report, "latency") if e.facts["rise"]} <= set(report.root_cause.evidence)
        assert not [e for e in of(report, "experiments") if e.facts.get("experiment")]  # the other is not ours


def test_a_configuration_left_without_an_experiment_is_a_weak_hypothesis_never_the_root(moto):
    stack = fis_stack(moto, "left")
    bucket = stack.outputs[contract.FIS_CONFIGURATION_LOCATION].removeprefix("arn:aws:s3:::").split("/")[0]
    stack.client("s3").put_object(Bucket=bucket, Key="FisConfigs/by-hand.json", Body=b"{}")
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    report = run(moto, stack, now)
    assert report.root_cause.kind == "unknown"
    weak = [h for h in report.hypotheses if h.kind == "fis_latency_injected"]
    assert [(h.resource, h.confidence) for h in weak] == [(stack.outputs[contract.FIS_CONFIGURATION_LOCATION], 0.35)]


def test_a_latency_rise_with_a_fault_of_an_existing_kind_names_that_fault(moto):
    stack = fis_stack(moto, "deny", fis=False)
    inject_fault_like_the_fault_function(stack)
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    report = run(moto, stack, now)
    assert report.root_cause.kind == "bucket_policy_deny"


def test_with_both_experiments_the_errors_are_the_root_and_the_delay_a_hypothesis(moto):
    stack = fis_stack(moto, "both")
    start(moto, stack, contract.FIS_LATENCY_TEMPLATE)
    start(moto, stack, contract.FIS_ERRORS_TEMPLATE)
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    failing(stack, now, minutes=(2,))
    report = run(moto, stack, now)
    assert report.root_cause.kind == "fis_errors_injected"
    assert "fis_latency_injected" in {h.kind for h in report.hypotheses}


# ------------------------------------------------------------------------------------------ §3 partial symptoms
def test_a_20_percent_error_rate_is_never_healthy_and_is_current_while_it_lasts(moto):
    stack = fis_stack(moto, "partial", fis=False)
    now = datetime.now(UTC)
    baseline(stack, now)
    failing(stack, now, share=0.2)
    report = run(moto, stack, now)
    assert report.status == "fault"  # 80% of the requests succeed in the same minutes: not recovery
    assert report.root_cause.kind == "unknown"
    [share] = [s for s in report.shares if s.source == "metrics"]
    assert share.share == 0.2

    # The same rate 20 minutes ago, successful requests since: over.
    over = fis_stack(moto, "partial-over", fis=False)
    baseline(over, now)
    failing(over, now, share=0.2, minutes=(22, 21, 20))
    for minute in (3, 2, 1):
        api(over, now, minute, Count=100, Latency=140, IntegrationLatency=120)
    assert run(moto, over, now).status == "recovered"


@pytest.mark.parametrize(("failing_probe", "status"), [(None, "recovered"), (14, "fault")])
def test_after_a_partial_failure_enough_probes_are_sent_to_catch_it_still_failing(moto, failing_probe, status):
    """Three probes all pass a 20% error rate half the time ((0.8)^3): after one, 14 are sent ((0.8)^14 < 5%)."""
    stack = fis_stack(moto, f"probes-{failing_probe}", fis=False)
    now = datetime.now(UTC)
    failing(stack, now, share=0.2, minutes=(22, 21, 20))  # over, and no request since
    sent: list[int] = []

    def probe() -> int:
        sent.append(200)
        return 500 if len(sent) == failing_probe else 200

    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    report = investigate(moto, target, now=now, collectors=IN_MOTO, probe=probe)
    assert len(sent) == 14
    assert report.status == status


# ------------------------------------------------------------------------------------------ §3 the latency rule
WINDOW = Window(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), datetime(2026, 11, 25, 10, 30, tzinfo=UTC))
SCOPE = Scope(clients=None, target=TARGET, window=WINDOW)  # type: ignore[arg-type]  # judge reads no client


def series(before: list[float], during: list[float]) -> Series:
    """Values one a minute: `before` ending at the window's start, `during` ending at its end."""
    start, end = WINDOW.start, WINDOW.end
    values = {start - timedelta(minutes=len(before) - n): v for n, v in enumerate(before)}
    values |= {end - timedelta(minutes=len(during) - n): v for n, v in enumerate(during)}
    return Series(values, dict(values), "Average")


@pytest.mark.parametrize(
    ("before", "during", "rise"),
    [
        # baseline 100: the absolute floor decides (100 + 250 = 350 > 2 x 100)
        ([100] * 10, [100, 351, 351], True),
        ([100] * 10, [100, 350, 350], False),
        # baseline 400: the factor decides (2 x 400 = 800 > 400 + 250)
        ([400] * 10, [801, 801], True),
        ([400] * 10, [800, 800], False),
        # periods: two risen minutes make a rise, one (a cold start) does not
        ([100] * 10, [100, 100, 5000], False),
        # baseline periods: five make a baseline, four do not (then only the alarm decides)
        ([100] * 5, [900, 900], True),
        ([100] * 4, [900, 900], False),
        # the baseline is a median: a few slow minutes before the window do not raise it
        ([100] * 6 + [5000] * 3, [900, 900], True),
    ],
)
def test_the_rise_that_counts_both_sides_of_each_threshold(before, during, rise):
    facts = latency.judge(series(before, during), SCOPE)
    assert facts["rise"] is rise
    assert (facts["baseline"] is None) is (len(before) < latency.BASELINE_MIN_PERIODS)


def latency_alarm(state: str):
    return item("alarms", 4, alarm="lat", purpose="latency", state=state, resource="api/prod")


@pytest.mark.parametrize(("state", "symptom"), [("ALARM", True), ("OK", False), ("INSUFFICIENT_DATA", False)])
def test_the_latency_alarm_in_alarm_is_a_symptom_and_otherwise_not(state, symptom):
    evidence = [latency_alarm(state), item("latency", 1, metric="api_latency", rise=False, resource="api/prod")]
    assert bool(Evidences(tuple(evidence)).symptoms()) is symptom
    root, _ = conclude(evidence)
    assert (root.kind if root else None) == ("unknown" if symptom else None)


def test_percentiles_decide_where_cloudwatch_gives_them(moto):
    """The real CloudWatch model (Stubber): p99 over the baseline rises while the Average hides the slow share."""
    client = new_session().client("cloudwatch", region_name=REGION)
    stubber = Stubber(client)
    target = dataclasses.replace(TARGET, api_name=None)  # the function's Duration only
    scope = Scope(clients=Clients(new_session()), target=target, window=WINDOW)
    scope.clients.use("cloudwatch", client)
    minutes = [WINDOW.start - timedelta(minutes=n) for n in range(1, 11)] + [
        WINDOW.end - timedelta(minutes=n) for n in (1, 2)
    ]
    slow_minutes = set(minutes[-2:])
    stubber.add_response(
        "get_metric_statistics",
        {
            "Datapoints": [
                {"Timestamp": t, "Average": 140.0 if t in slow_minutes else 100.0, "Maximum": 3100.0} for t in minutes
            ]
        },
    )
    stubber.add_response(
        "get_metric_statistics",
        {
            "Datapoints": [
                {"Timestamp": t, "ExtendedStatistics": {"p99": 3100.0 if t in slow_minutes else 180.0}} for t in minutes
            ]
        },
    )
    with stubber:
        [duration] = latency.collect(scope)
    stubber.assert_no_pending_responses()
    assert duration.facts["statistic"] == "p99" and duration.facts["percentiles"] is True
    assert duration.facts["baseline"] == 180.0 and duration.facts["rise"] is True
    assert "gave no p99" not in duration.detail and "p99 per minute" in duration.detail


# ------------------------------------------------------------------------------------------ CloudTrail, reads, speed
def test_start_experiment_in_cloudtrail_names_the_templates_kind_and_its_actor():
    target = dataclasses.replace(TARGET, fis_templates={"latency": "EXTlat", "errors": "EXTerr"})
    record = {
        "userIdentity": {"arn": "arn:aws:iam::123456789012:user/facilitator"},
        "requestParameters": {"experimentTemplateId": "EXTerr"},
    }
    event = {"EventName": "StartExperiment", "EventTime": WINDOW.end, "CloudTrailEvent": json.dumps(record)}
    facts = cloudtrail.match(event, target)
    assert (facts["kind"], facts["resource"], facts["actor"]) == (
        "fis_errors_template",
        "EXTerr",
        record["userIdentity"]["arn"],
    )
    other = json.dumps({**record, "requestParameters": {"experimentTemplateId": "EXTsomeone-elses"}})
    assert cloudtrail.match({**event, "CloudTrailEvent": other}, target) is None


# What the new sources call, as IAM actions (the operator policy must grant them; see docs/investigator.md).
FIS_READS = {"fis:ListExperiments", "fis:GetExperiment", "s3:ListObjectsV2", "cloudwatch:GetMetricStatistics"}


def test_the_new_sources_make_only_the_reads_the_operator_policy_is_told_of(moto):
    stack = fis_stack(moto, "reads")
    start(moto, stack, contract.FIS_LATENCY_TEMPLATE)
    calls: set[str] = set()
    clients = Clients(new_session())
    for service in ("fis", "s3", "cloudwatch"):
        client = clients.client(service)
        client.meta.events.register("before-call", lambda model, s=service, **_: calls.add(f"{s}:{model.name}"))
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    sources = [(n, c) for n, c in COLLECTORS if n in ("experiments", "latency")]
    report = investigate(clients, target, collectors=sources)
    assert all(e.available for e in report.evidence)
    assert calls == FIS_READS


def test_an_investigation_of_a_fis_stack_takes_under_five_seconds_against_moto(moto):
    stack = fis_stack(moto, "speed")
    start(moto, stack, contract.FIS_LATENCY_TEMPLATE)
    now = datetime.now(UTC)
    baseline(stack, now)
    slow(stack, now)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    seconds = []
    for _ in range(10):
        begin = time.perf_counter()
        report = investigate(moto, target)
        seconds.append(time.perf_counter() - begin)
    assert report.root_cause.kind == "fis_latency_injected"
    print(f"FIS investigation against moto: median {statistics.median(seconds):.2f} s of {len(seconds)}")
    assert statistics.median(seconds) < 5
