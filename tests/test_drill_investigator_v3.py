"""Investigator v3 (issue 21) against moto: time (an incident that is over is `recovered`), share (part of
the requests failing, a partial cause), and clients' errors (4XX that are not throttling are not a fault).

Each class has more than one variant and a trap that must stay healthy. One moto (mock_aws) serves the
module; every case builds its own stack under its own prefix, then writes the symptoms as API Gateway,
Lambda and the access log write them, at the minutes they happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import statistics
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from conftest import moto_clients
from drill_fixtures import ACCOUNT, REGION, MotoStack, build_stack, inject_fault_like_the_fault_function
from test_drill_collectors import TARGET, item

from components.api_logging import ACCESS_LOG_FIELDS
from drill.aws import Clients
from drill.investigator import Report, investigate, resolve_target
from drill.investigator.collectors import COLLECTORS, bucket_policy, drift
from drill.investigator.collectors._base import Scope
from drill.investigator.declared import Declared, from_pulumi
from drill.investigator.model import Window

pytestmark = pytest.mark.e2e  # investigations of the program's whole stack in moto: the `.ci/run` e2e step

NOW = datetime.now(UTC).replace(microsecond=0)
# Every source but the two moto lacks (LookupEvents, DescribeAlarmHistory: unavailable, after retries) and
# the tags (no part in these classes).
IN_MOTO = [(name, collect) for name, collect in COLLECTORS if name not in ("cloudtrail", "alarm_history", "tags")]


@pytest.fixture(scope="module")
def moto() -> Iterator[Clients]:
    with moto_clients() as clients:
        yield clients


# ------------------------------------------------------------------------------------------ symptoms, by minute
def at(minutes_ago: float) -> datetime:
    return NOW - timedelta(minutes=minutes_ago)


def api_metrics(stack: MotoStack, minutes_ago: float, *, count: float, e5xx: float = 0, e4xx: float = 0) -> None:
    dims = [{"Name": "ApiName", "Value": f"{stack.prefix}-api"}, {"Name": "Stage", "Value": "prod"}]
    values = (("Count", count), ("5XXError", e5xx), ("4XXError", e4xx))
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {"MetricName": n, "Dimensions": dims, "Timestamp": at(minutes_ago), "Value": v, "Unit": "Count"}
            for n, v in values
        ],
    )


def function_metrics(stack: MotoStack, minutes_ago: float, **values: float) -> None:
    dims = [{"Name": "FunctionName", "Value": stack.function}]
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {"MetricName": n, "Dimensions": dims, "Timestamp": at(minutes_ago), "Value": v, "Unit": "Count"}
            for n, v in values.items()
        ],
    )


def put_lines(stack: MotoStack, group: str, lines: list[tuple[float, dict]]) -> None:
    logs = stack.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    stream = f"s-{len(lines)}-{lines[0][0]}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    events = [{"timestamp": int(at(m).timestamp() * 1000), "message": json.dumps(line)} for m, line in lines]
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=sorted(events, key=lambda e: e["timestamp"])
    )


def error_lines(stack: MotoStack, minutes_ago: float, count: int = 3) -> None:
    """The image function's `aws call failed` lines (Lambda's JSON log format, top-level fields)."""
    line = {"level": "ERROR", "message": "aws call failed", "error_code": "AccessDenied", "operation": "GetObject"}
    put_lines(stack, f"/aws/lambda/{stack.function}", [(minutes_ago, {**line, "bucket": stack.bucket})] * count)


def access_log(stack: MotoStack, statuses: list[tuple[float, int]]) -> None:
    """Turn the stage's access log on (as the stack does) and write one line per request in its format."""
    group = f"/aws/apigateway/{stack.prefix}-api-access"
    stack.client("apigateway").update_stage(
        restApiId=stack.outputs["RestApiId"],
        stageName="prod",
        patchOperations=[
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}",
            },
            {"op": "replace", "path": "/accessLogSettings/format", "value": json.dumps(ACCESS_LOG_FIELDS)},
        ],
    )
    fields = {k: "-" for k in ACCESS_LOG_FIELDS}
    put_lines(stack, group, [(m, {**fields, "status": str(s), "httpMethod": "GET"}) for m, s in statuses])


class Probes:
    """The probe seam: answers in turn, counting the requests."""

    def __init__(self, *answers: int | None) -> None:
        self.answers, self.sent = list(answers), 0

    def __call__(self) -> int | None:
        self.sent += 1
        return self.answers[min(self.sent, len(self.answers)) - 1]


def run(
    moto: Clients, prefix: str, scenario: Callable[[MotoStack], None], probe: Probes | None = None, images: int = 4
):
    stack = build_stack(None, f"aiops-demo-v3-{prefix}", images=images, fault_chain=False, tls_only_policy=False)
    scenario(stack)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    return stack, investigate(moto, target, now=NOW, probe=probe, collectors=IN_MOTO)


def past_incident(stack: MotoStack) -> None:
    """Errors and 5XX from 25 to 23 minutes ago; the 5XX alarm is OK again."""
    for minutes in (25, 24, 23):
        api_metrics(stack, minutes, count=10, e5xx=10)
        function_metrics(stack, minutes, Invocations=10, Errors=10)
    error_lines(stack, 24)


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def replace_facts(e, **facts):
    return dataclasses.replace(e, facts={**e.facts, **facts})


def evidence(report: Report, source: str) -> list:
    return [e for e in report.evidence if e.source == source]


# ------------------------------------------------------------------------------------------ §1 time
def test_symptoms_that_stopped_while_recent_requests_succeed_are_recovered_with_the_window(moto):
    def scenario(stack):
        past_incident(stack)
        api_metrics(stack, 2, count=20)  # recent traffic, no 5XX
        function_metrics(stack, 2, Invocations=20)

    _, report = run(moto, "over", scenario)
    assert report.status == "recovered" and report.root_cause is None, report.hypotheses
    incident = report.to_json()["incident"]
    # Within the minute of the first datapoint (a period holds it), to the end of the last one's period.
    assert stamp(at(26)) < incident["start"] <= stamp(at(25))
    assert stamp(at(23)) <= incident["end"] <= stamp(at(22)), incident
    cited = {e.id: e for e in report.evidence if e.id in incident["recovery"]}
    assert [e.facts["metric"] for e in cited.values()] == ["api_count"]
    assert "no change around it is known, so its cause is not named" in incident["summary"]
    assert report.remediation == () and report.impact_path == ()


def test_a_fault_that_is_still_there_is_never_recovered(moto):
    def still_denied(stack):  # recent requests succeed (a warm container's cached listing), but the Deny holds
        past_incident(stack)
        api_metrics(stack, 2, count=20)
        inject_fault_like_the_fault_function(stack)

    _, report = run(moto, "held", still_denied)
    assert report.status == "fault" and report.root_cause.kind == "bucket_policy_deny"


# The same rules on evidence as the collectors write it (no AWS): the variants of each class.
PAST_5XX = item("metrics", 1, metric="api_5xx", sum=30.0, recent=0, first=stamp(at(25)), last=stamp(at(22)))
RECENT_OK = item("metrics", 2, metric="api_count", sum=50.0, recent=20.0, first=stamp(at(25)), last=stamp(at(1)))
ALARM_OK = item("alarms", 1, alarm="a", purpose="api_5xx", state="OK")


def canned(*items, probe: Probes | None = None) -> Report:
    return investigate(Clients(None), TARGET, now=NOW, probe=probe, collectors=[("x", lambda _: list(items))])


@pytest.mark.parametrize(
    ("case", "items", "probe", "status"),
    [
        ("over", [PAST_5XX, RECENT_OK, ALARM_OK], None, "recovered"),
        ("probed", [PAST_5XX, ALARM_OK], Probes(200), "recovered"),
        ("probe-fails", [PAST_5XX, ALARM_OK], Probes(200, 500), "fault"),
        ("probe-unanswered", [PAST_5XX, ALARM_OK], Probes(None), "fault"),
        ("no-probe", [PAST_5XX, ALARM_OK], None, "fault"),
        ("twenty-percent", [replace_facts(PAST_5XX, recent=4.0), RECENT_OK], None, "fault"),
        (
            "alarm-still-on",
            [PAST_5XX, RECENT_OK, item("alarms", 1, alarm="a", purpose="api_5xx", state="ALARM")],
            None,
            "fault",
        ),
        (
            "recent-error-lines",
            [PAST_5XX, RECENT_OK, item("logs", 1, error_code="AccessDenied", count=2, last=stamp(at(1)))],
            None,
            "fault",
        ),
        (
            "recent-5xx-in-access-log",
            [PAST_5XX, RECENT_OK, item("access_logs", 1, configured=True, requests=9, recent=9, recent_5xx=1)],
            None,
            "fault",
        ),
    ],
)
def test_recovered_only_when_no_symptom_is_current_and_recent_requests_succeed(case, items, probe, status):
    report = canned(*items, probe=probe)
    assert report.status == status
    if status == "fault":
        assert report.root_cause.kind == "unknown" and report.incident is None
    if probe is not None:
        assert probe.sent == (3 if case != "over" else 0)
    if case == "no-probe":
        assert any("whether the incident is over is not known" in n for n in report.notes)


def test_recent_traffic_makes_a_probe_needless_and_a_cause_that_holds_is_never_recovered():
    probe = Probes(200)
    assert canned(PAST_5XX, RECENT_OK, probe=probe).status == "recovered" and probe.sent == 0
    zero = item("concurrency", 1, reserved=0, function=TARGET.function_name)
    report = canned(PAST_5XX, RECENT_OK, zero, probe=probe)
    assert report.status == "fault" and report.root_cause.kind == "function_throttled" and probe.sent == 0


def test_a_past_incident_names_the_changes_cloudtrail_saw_around_it_but_blames_no_kind():
    change = item(
        "cloudtrail", 1, event_name="PutBucketPolicy", resource=TARGET.bucket, changed_at=stamp(at(26)), harmless=False
    )
    revert = item(
        "cloudtrail", 2, event_name="PutBucketPolicy", resource=TARGET.bucket, changed_at=stamp(at(21)), harmless=False
    )
    long_before = item(
        "cloudtrail", 3, event_name="PutParameter", resource="/p", changed_at=stamp(at(29)), harmless=False
    )
    tagged = item("cloudtrail", 4, event_name="TagRole", resource="r", changed_at=stamp(at(24)), harmless=True)
    report = canned(
        replace_facts(PAST_5XX, first=stamp(at(18)), last=stamp(at(15))), RECENT_OK, change, revert, long_before, tagged
    )
    assert report.status == "recovered" and report.root_cause is None
    assert set(report.incident.evidence) == {"metrics-1", "cloudtrail-1", "cloudtrail-2"}
    assert "changes around it (CloudTrail)" in report.incident.summary


# ------------------------------------------------------------------------------------------ §2 share
def deny_keys(stack: MotoStack, resource: str | list[str]) -> None:
    statement = {
        "Sid": "HideSome",
        "Effect": "Deny",
        "Principal": {"AWS": stack.role_arn},
        "Action": "s3:GetObject",
        "Resource": resource,
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    stack.client("s3").put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(policy))


def test_a_deny_on_some_image_keys_is_the_cause_with_the_share_it_blocks(moto):
    def on_keys(stack):  # one named key of four
        deny_keys(stack, [f"arn:aws:s3:::{stack.bucket}/image-2.png"])
        api_metrics(stack, 2, count=20, e5xx=5)

    def on_pattern(stack):  # a wildcard that covers two of the four keys
        deny_keys(stack, [f"arn:aws:s3:::{stack.bucket}/image-0*", f"arn:aws:s3:::{stack.bucket}/image-1*"])
        api_metrics(stack, 2, count=20, e5xx=10)

    for case, scenario, share in (("keys", on_keys, "25%"), ("pattern", on_pattern, "50%")):
        stack, report = run(moto, f"partial-{case}", scenario)
        root = report.root_cause
        assert report.status == "fault" and root.kind == "bucket_policy_deny" and root.resource == stack.bucket
        assert f"{share} of them (of 4 listed images)" in root.summary
        (deny,) = [e for e in evidence(report, "bucket_policy") if e.facts.get("deny")]
        assert deny.facts["share"] == float(share.rstrip("%")) / 100


def test_a_deny_on_keys_that_hold_no_image_is_not_a_cause(moto):
    def trap(stack):
        deny_keys(stack, f"arn:aws:s3:::{stack.bucket}/private/*")
        api_metrics(stack, 2, count=20)

    _, report = run(moto, "partial-trap", trap)
    assert report.status == "healthy", report.hypotheses
    (policy,) = evidence(report, "bucket_policy")
    assert "none denies" in policy.detail


def test_reserved_concurrency_below_demand_with_throttles_is_function_throttled(moto):
    def limited(stack):
        stack.client("lambda").put_function_concurrency(FunctionName=stack.function, ReservedConcurrentExecutions=2)
        api_metrics(stack, 2, count=40, e5xx=8)
        function_metrics(stack, 2, Invocations=32, Throttles=8)

    def roomy(stack):  # the trap: reserved concurrency that Lambda never hits
        stack.client("lambda").put_function_concurrency(FunctionName=stack.function, ReservedConcurrentExecutions=5)
        api_metrics(stack, 2, count=40)
        function_metrics(stack, 2, Invocations=40)

    stack, report = run(moto, "limited", limited)
    assert report.root_cause.kind == "function_throttled" and report.root_cause.resource == stack.function
    assert "reserved concurrency 2, below demand: Lambda throttled 8 invocations" in report.root_cause.summary
    assert "20% of the calls" in report.root_cause.summary
    shares = report.to_json()["shares"]
    assert shares["metrics"]["share"] == 0.2 and shares["metrics"]["requests"] == 40
    _, report = run(moto, "roomy", roomy)
    assert report.status == "healthy" and report.hypotheses == (), report.hypotheses  # not even a weak one


def test_the_report_gives_the_share_of_failing_requests_per_source(moto):
    def scenario(stack):
        deny_keys(stack, [f"arn:aws:s3:::{stack.bucket}/image-2.png"])
        api_metrics(stack, 3, count=20, e5xx=5)
        function_metrics(stack, 3, Invocations=20, Errors=0)
        error_lines(stack, 3, count=5)
        access_log(stack, [(3, 200)] * 15 + [(3, 500)] * 5 + [(3, 404)] * 2)

    _, report = run(moto, "shares", scenario)
    shares = report.to_json()["shares"]
    assert {k: (v["failing"], v["requests"], v["share"]) for k, v in shares.items()} == {
        "metrics": (5, 20, 0.25),
        "logs": (5, 20, 0.25),
        "access_logs": (5, 22, 0.227),
    }


# ------------------------------------------------------------------------------------------ §3 clients' errors
def test_4xx_that_are_not_throttling_are_clients_errors_and_the_stack_is_healthy(moto):
    def metrics_only(stack):
        api_metrics(stack, 3, count=40, e4xx=12)

    def with_access_log(stack):
        api_metrics(stack, 3, count=40, e4xx=12)
        access_log(stack, [(3, 200)] * 28 + [(3, 404)] * 8 + [(3, 403)] * 4)

    _, report = run(moto, "4xx-metrics", metrics_only)
    assert report.status == "healthy", report.hypotheses
    (note,) = [n for n in report.notes if n.startswith("Client errors")]
    assert "12 4XX datapoints of 40 requests (30%)" in note and "decided by the stage's limits alone" in note
    _, report = run(moto, "4xx-log", with_access_log)
    assert report.status == "healthy", report.hypotheses
    (note,) = [n for n in report.notes if n.startswith("Client errors")]
    assert "12 4XX in the access log of 40 requests (30%)" in note and "decided by the access log" in note


def test_429s_in_the_access_log_are_throttling_even_with_a_roomy_stage(moto):
    def throttled_by_account(stack):  # the trap the other way round: these 4XX are the service's
        api_metrics(stack, 3, count=40, e4xx=12)
        access_log(stack, [(3, 200)] * 28 + [(3, 429)] * 12)

    _, report = run(moto, "429", throttled_by_account)
    assert report.status == "fault" and report.root_cause.kind == "unknown"
    cited = set(report.root_cause.evidence)
    assert {e.id for e in evidence(report, "access_logs")} <= cited


# ------------------------------------------------------------------------------------------ §6 speed
def test_an_investigation_with_every_source_takes_under_five_seconds_against_moto(moto):
    stack = build_stack(None, "aiops-demo-v3-speed", images=4, fault_chain=False)
    access_log(stack, [(3, 200)] * 10)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    seconds = []
    for _ in range(10):
        start = time.perf_counter()
        report = investigate(moto, target)
        seconds.append(time.perf_counter() - start)
    assert [s.name for s in report.sources] == [name for name, _ in COLLECTORS]  # every source, the new ones too
    print(f"investigation against moto: median {statistics.median(seconds):.2f} s of {len(seconds)}")
    assert statistics.median(seconds) < 5


# ------------------------------------------------------------------------------------------ §4 conditions
def conditioned(sid: str, condition: dict) -> dict:
    return {"Sid": sid, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Condition": condition}


CONDITIONS = {
    # decided from the function's situation: it runs in no VPC, so it has no endpoint and no VPC
    "OnlyThroughEndpoint": ({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c"}}, True),
    "NoVpcNoAccess": ({"Null": {"aws:SourceVpc": "true"}}, True),
    # the role's tags are its session's principal tags (the stack tags every resource)
    "ThisApplication": ({"StringEquals": {"aws:PrincipalTag/Application": "aiops-demo"}}, True),
    "OtherApplication": ({"StringEquals": {"aws:PrincipalTag/Application": "payments"}}, None),
    # absent key, negated operator: true (IAM's rule)
    "OwnersOnly": ({"StringNotEquals": {"aws:PrincipalTag/Owner": "images-team"}}, True),
    "OtherRegions": ({"StringNotEquals": {"aws:RequestedRegion": REGION}}, None),
    "ViaServicesOnly": ({"Bool": {"aws:ViaAWSService": "true"}}, None),
    # cannot be known: the network the call leaves from
    "OfficeOnly": ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, False),
}


def test_conditions_the_functions_situation_decides_are_decided_and_the_rest_named(moto):
    stack = build_stack(None, "aiops-demo-v3-conditions", images=2, fault_chain=False, tls_only_policy=False)
    statements = [
        {**conditioned(sid, condition), "Resource": f"arn:aws:s3:::{stack.bucket}/*"}
        for sid, (condition, _) in CONDITIONS.items()
    ]
    stack.client("s3").put_bucket_policy(
        Bucket=stack.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    found = bucket_policy.collect(Scope(clients=moto, target=target, window=Window.last(30, NOW)))
    decided = {e.facts["sid"]: e.facts["certain"] for e in found if e.facts.get("deny")}
    assert decided == {sid: certain for sid, (_, certain) in CONDITIONS.items() if certain is not None}
    (office,) = [e for e in found if e.facts.get("sid") == "OfficeOnly"]
    assert "aws:SourceIp" in office.detail and "the public address the function's calls leave from" in office.detail


def test_in_a_vpc_the_endpoint_condition_stays_unknown_and_says_why():
    from drill.investigator.policy import Caller, Situation, condition_applies

    inside = Caller.lambda_role(TARGET.role_arn, None, ACCOUNT, None, Situation(REGION, "vpc-0abc", {}))
    outside = Caller.lambda_role(TARGET.role_arn, None, ACCOUNT, None, Situation(REGION, "", {}))
    statement = conditioned("S", {"StringNotEquals": {"aws:SourceVpc": "vpc-0abc"}})
    answer, why = condition_applies(statement, inside)
    assert answer is None and "the function runs in vpc-0abc" in why
    assert condition_applies(statement, outside)[0] is True  # absent key, negated operator
    assert condition_applies(conditioned("S", {"StringEquals": {"aws:SourceVpc": "vpc-0abc"}}), outside)[0] is False
    unknown_tags = Caller.lambda_role(TARGET.role_arn, None, ACCOUNT, None, Situation(REGION, "", None))
    tagged = conditioned("S", {"StringNotEquals": {"aws:PrincipalTag/Owner": "x"}})
    assert condition_applies(tagged, unknown_tags)[0] is None  # the role's tags could not be read


def test_a_deny_decided_from_the_situation_is_the_root_cause_and_an_inapplicable_one_a_trap(moto):
    def only_through_endpoint(stack):
        condition, _ = CONDITIONS["OnlyThroughEndpoint"]
        deny = {**conditioned("OnlyThroughEndpoint", condition), "Resource": f"arn:aws:s3:::{stack.bucket}/*"}
        stack.client("s3").put_bucket_policy(
            Bucket=stack.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
        )
        api_metrics(stack, 2, count=10, e5xx=10)

    def other_application(stack):
        statements = [
            {**conditioned(sid, CONDITIONS[sid][0]), "Resource": f"arn:aws:s3:::{stack.bucket}/*"}
            for sid in ("OtherApplication", "OtherRegions", "ViaServicesOnly")
        ]
        stack.client("s3").put_bucket_policy(
            Bucket=stack.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements})
        )
        api_metrics(stack, 2, count=10)

    _, report = run(moto, "endpoint", only_through_endpoint)
    assert report.root_cause.kind == "bucket_policy_deny" and "denies" in report.root_cause.summary
    _, report = run(moto, "other-app", other_application)
    assert report.status == "healthy" and report.hypotheses == ()


@pytest.mark.parametrize(
    "value",
    [lambda b: b.upper(), lambda b: f"{b} ", lambda b: b[:-1], lambda b: f"{b}-copy"],
    ids=["case", "trailing-space", "one-character-less", "another-existing-bucket"],
)
def test_a_parameter_that_is_not_the_stacks_bucket_exactly_is_parameter_wrong_bucket(moto, value):
    def scenario(stack):
        wrong = value(stack.bucket)
        if wrong.endswith("-copy"):
            stack.client("s3").create_bucket(Bucket=wrong, CreateBucketConfiguration={"LocationConstraint": REGION})
        stack.client("ssm").put_parameter(Name=stack.parameter, Value=wrong, Type="String", Overwrite=True)

    stack, report = run(moto, f"param-{len(str(value))}-{id(value) % 997}", scenario, images=1)
    assert report.status == "fault" and report.root_cause.kind == "parameter_wrong_bucket", report.hypotheses
    assert report.root_cause.resource == stack.parameter


# ------------------------------------------------------------------------------------------ §5 role trust
def trust(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


LAMBDA_ALLOW = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}


@pytest.mark.parametrize(
    ("case", "document", "kind"),
    [
        ("ec2-only", trust({**LAMBDA_ALLOW, "Principal": {"Service": "ec2.amazonaws.com"}}), "role_trust_broken"),
        (
            "lambda-denied",
            trust(LAMBDA_ALLOW, {**LAMBDA_ALLOW, "Effect": "Deny", "Sid": "NoLambda"}),
            "role_trust_broken",
        ),
        (
            "edge-too",  # the trap: one more trusted service changes nothing for Lambda
            trust({**LAMBDA_ALLOW, "Principal": {"Service": ["lambda.amazonaws.com", "edgelambda.amazonaws.com"]}}),
            None,
        ),
    ],
)
def test_a_trust_policy_lambda_cannot_assume_is_role_trust_broken(moto, case, document, kind):
    def scenario(stack):
        stack.client("iam").update_assume_role_policy(RoleName=stack.role_name, PolicyDocument=document)
        api_metrics(stack, 2, count=10, e5xx=10 if kind else 0)

    stack, report = run(moto, f"trust-{case}", scenario, images=1)
    if kind is None:
        assert report.status == "healthy" and report.hypotheses == (), report.hypotheses
        return
    assert report.root_cause.kind == kind and report.root_cause.resource == stack.role_arn
    assert "before the handler runs" in report.root_cause.summary
    fix = report.remediation[1]
    assert fix.startswith(f"aws iam update-assume-role-policy --role-name {stack.role_name} --policy-document ")


def test_the_trust_policy_the_fix_puts_back_is_the_stacks():
    from components.function import LAMBDA_TRUST as DECLARED
    from drill.investigator.remediation import LAMBDA_TRUST

    assert LAMBDA_TRUST == DECLARED


# ------------------------------------------------------------------------------------------ §5 declared state
def exported(stack: MotoStack) -> dict:
    """`pulumi stack export` of the stack, in Pulumi's deployment format (version 3): the stack resource,
    the image function and its role, with the inputs and outputs Pulumi records (camelCase names)."""
    urn = "urn:pulumi:v3::aiops-demo::"
    function = {
        "timeout": 10,
        "memorySize": 256,
        "handler": "handler.handler",
        "runtime": "python3.13",
        "layers": [],
        "environment": {"variables": {"BUCKET_NAME_PARAMETER": stack.parameter, "IMAGE_CACHE_TTL_SECONDS": "60"}},
        "role": stack.role_arn,
    }
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-25T09:00:00Z", "magic": "0" * 64, "version": "v3.272.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:x"}},
            "resources": [
                {"urn": f"{urn}pulumi:pulumi:Stack::aiops-demo-v3", "custom": False, "type": "pulumi:pulumi:Stack"},
                {
                    "urn": f"{urn}aiops:index:PythonFunction$aws:lambda/function:Function::images-api-fn",
                    "custom": True,
                    "id": stack.function,
                    "type": "aws:lambda/function:Function",
                    "inputs": {**function, "name": stack.function},
                    "outputs": {**function, "name": stack.function, "arn": f"arn:aws:lambda:::{stack.function}"},
                },
                {
                    "urn": f"{urn}aiops:index:PythonFunction$aws:iam/role:Role::images-api-role",
                    "custom": True,
                    "id": stack.role_name,
                    "type": "aws:iam/role:Role",
                    "outputs": {"arn": stack.role_arn, "name": stack.role_name},
                },
            ],
        },
    }


def runner_printing(document: dict, calls: list):
    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(document), stderr="")

    return run


def declared_stack(moto: Clients, prefix: str) -> tuple[MotoStack, Declared]:
    stack = build_stack(None, f"aiops-demo-v3-{prefix}", images=1, fault_chain=False, tls_only_policy=False)
    stack.client("lambda").update_function_configuration(FunctionName=stack.function, Timeout=10, MemorySize=256)
    calls: list = []
    declared = from_pulumi(runner_printing(exported(stack), calls), "v3", stack.function)
    assert calls == [["pulumi", "stack", "export", "--stack", "v3"]]
    return stack, declared


CHANGES = {  # (the change, the compared property, the live value after it; the declared value is the source's)
    "timeout": ({"Timeout": 1}, "timeout", 1),
    "memory": ({"MemorySize": 512}, "memory_size", 512),
    "handler": ({"Handler": "app.main"}, "handler", "app.main"),
    "runtime": ({"Runtime": "python3.12"}, "runtime", "python3.12"),
    "layers": ({"Layers": None}, "layers", None),  # the layer this test publishes
    "environment": (
        {"Environment": {"Variables": {"IMAGE_CACHE_TTL_SECONDS": "0"}}},
        "environment IMAGE_CACHE_TTL_SECONDS",
        "0",
    ),
}


def declared_value(declared: Declared, prop: str):
    if prop.startswith("environment "):
        return declared.function.environment[prop.removeprefix("environment ")]
    return getattr(declared.function, prop)


def function_drift(items: list) -> list:
    return [e for e in items if e.facts.get("area") == "function"]


def assert_each_change_found_alone(moto: Clients, stack: MotoStack, declared: Declared) -> None:
    """The live function matches `declared`; each compared field changed alone is the one difference."""
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    scope = Scope(clients=moto, target=target, window=Window.last(30, NOW), declared=declared)
    assert function_drift(drift.collect(scope)) == []  # the rest of the path: tests/test_drill_investigator_drift.py
    lambda_ = stack.client("lambda")
    original = lambda_.get_function_configuration(FunctionName=stack.function)
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("python/extra.py", "")
    layer = lambda_.publish_layer_version(LayerName="extra", Content={"ZipFile": zipped.getvalue()})["LayerVersionArn"]
    for case, (change, prop, have) in CHANGES.items():
        if case == "layers":
            change, have = {"Layers": [layer]}, (layer,)
        if case == "environment":  # only that variable changes; the parameter variable stays
            variables = {**original["Environment"]["Variables"], **change["Environment"]["Variables"]}
            change = {"Environment": {"Variables": variables}}
        lambda_.update_function_configuration(FunctionName=stack.function, **change)
        found = function_drift(
            drift.collect(Scope(clients=moto, target=target, window=Window.last(30, NOW), declared=declared))
        )
        want = declared_value(declared, prop)
        assert want != have, case
        assert [(e.facts["property"], e.facts["declared"], e.facts["live"]) for e in found] == [(prop, want, have)]
        assert found[0].facts["breaks"] is (case != "environment" and declared.deployed), case
        keys = {"Timeout", "MemorySize", "Handler", "Runtime", "Environment"}
        lambda_.update_function_configuration(
            FunctionName=stack.function, Layers=[], **{k: v for k, v in original.items() if k in keys}
        )


def test_every_compared_property_of_the_function_is_found_changed_one_at_a_time(moto):
    stack, declared = declared_stack(moto, "drift")
    assert_each_change_found_alone(moto, stack, declared)


def test_the_declared_state_computed_from_the_program_under_mocks_finds_each_field_changed_alone(moto, tmp_path):
    """The dev stack's declared state from __main__.py under mocks (no Pulumi CLI), against a hand-built live
    function configured as the program declares it, then changed one compared field at a time."""
    from drill.declared.program import from_program
    from drill.rehearsal.command import ROOT

    stack = build_stack(None, "aiops-demo-dev", images=1, fault_chain=False, tls_only_policy=False)
    declared = from_program(ROOT, "dev", stack.function, account=ACCOUNT, cache=tmp_path)
    assert (
        "under mocks with Pulumi.dev.yaml" in declared.source and "may differ from what was deployed" in declared.source
    )
    function = declared.function
    assert function is not None and function.environment["BUCKET_NAME_PARAMETER"] == stack.parameter
    stack.client("lambda").update_function_configuration(
        FunctionName=stack.function,
        Timeout=function.timeout,
        MemorySize=function.memory_size,
        Handler=function.handler,
        Runtime=function.runtime,
        Layers=list(function.layers),
        Environment={"Variables": dict(function.environment)},
    )
    assert_each_change_found_alone(moto, stack, declared)
    again = from_program(ROOT, "dev", stack.function, account=ACCOUNT, cache=tmp_path)  # the cached document
    assert again.function == function and "(cached)" in again.source
    assert len(list(tmp_path.iterdir())) == 1
    from_program(ROOT, "dev", stack.function, account="210987654321", cache=tmp_path)  # another key: run again
    assert len(list(tmp_path.iterdir())) == 2


def test_a_changed_handler_that_explains_the_errors_is_the_cause_and_drift_alone_is_never_blamed(moto):
    stack, declared = declared_stack(moto, "handler")
    stack.client("lambda").update_function_configuration(FunctionName=stack.function, Handler="app.main")
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)

    def report() -> Report:
        return investigate(moto, target, now=NOW, collectors=IN_MOTO, declared=declared)

    quiet = report()  # no symptoms: the difference is drift, listed, not blamed
    assert quiet.status == "healthy" and quiet.hypotheses == ()
    assert any(n.startswith("Drift from the declared state: function") and "'app.main'" in n for n in quiet.notes)
    function_metrics(stack, 2, Invocations=10, Errors=10)
    api_metrics(stack, 2, count=10, e5xx=10)
    failing = report()
    assert failing.root_cause.kind == "function_configuration_changed"
    assert "handler 'app.main' (declared 'handler.handler')" in failing.root_cause.summary
    assert failing.remediation == ("pulumi up  # puts the stack's declared function configuration back",)


def test_an_export_pulumi_could_not_make_is_said_not_guessed():
    from drill.investigator.declared import DeclaredUnavailable, from_export

    with pytest.raises(DeclaredUnavailable, match="version 2"):
        from_export({"version": 2, "deployment": {}}, "f", "export")
    assert from_export({"version": 3, "deployment": {"resources": []}}, "f", "export").function is None

    def failing(command, **kwargs):
        return subprocess.CompletedProcess(command, 255, stdout="", stderr="error: no stack named 'x' found")

    with pytest.raises(DeclaredUnavailable, match="no stack named 'x' found"):
        from_pulumi(failing, "x", "f")
