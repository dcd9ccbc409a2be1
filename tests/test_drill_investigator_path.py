"""The investigator's request-path additions in process: speed with a fixed delay on every AWS call,
CloudTrail attribution for the new kinds (documented event shapes through Stubber: moto has no
LookupEvents), harmless changes, TLS conditions, AWS-managed denies, `unknown`, and the markdown."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber
from conftest import new_session
from drill_fixtures import ACCOUNT, REGION, build_stack, write_api_datapoints
from test_drill_collectors import (
    CALLER,
    OBJECT,
    TARGET,
    WRITE_RECORD_END,
    denies,
    deny,
    item,
    lookup_item,
    no_retry_client,
    scope_with,
)

from drill.aws import Clients
from drill.investigator import investigate, resolve_target, to_markdown
from drill.investigator.collectors import COLLECTORS, cloudtrail, role
from drill.investigator.collectors._base import Scope
from drill.investigator.model import Window
from drill.investigator.policy import identity_decision
from drill.investigator.ranking import conclude
from drill.investigator.remediation import remediation

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
FUNCTION = TARGET.function_name
API_ID = "a1b2c3d4e5"
OPERATOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/alice"
PATH_TARGET = replace(TARGET, rest_api_id=API_ID, declared_role_arn=TARGET.role_arn)


# ------------------------------------------------------------------------------------------ speed
DELAY = 0.02  # a slow network stand-in; the barrier below, not the clock, proves the reads overlap


class DelayedClients(Clients):
    """Every AWS call waits DELAY seconds first, as if the network answered slowly."""

    def __init__(self, session) -> None:
        super().__init__(session)
        self.calls = 0

    def client(self, service: str):
        fresh = service not in self._clients
        made = super().client(service)
        if fresh:
            made.meta.events.register("before-call.*.*", self._wait)
        return made

    def _wait(self, **_) -> None:
        self.calls += 1
        time.sleep(DELAY)


def all_in_flight_at_once(collectors):
    """The collectors, each waiting at a barrier until every one has started: read one after another, the
    first would wait forever (the barrier's timeout only turns that into a failure instead of a hang)."""
    barrier = threading.Barrier(len(collectors))

    def waiting(collect):
        def run(scope):
            barrier.wait(timeout=30)
            return collect(scope)

        return run

    return [(source, waiting(collect)) for source, collect in collectors]


@pytest.mark.e2e  # the program's whole stack in moto (drill_fixtures.build_stack)
def test_every_source_is_read_concurrently(aws_mock):
    stack = build_stack(None, "aiops-demo-slow", fault_chain=False)
    clients = DelayedClients(new_session())  # its own session: its own event hooks
    start = time.perf_counter()
    target = resolve_target(stack.outputs, clients, account=ACCOUNT, region=REGION)
    resolved = time.perf_counter() - start
    report = investigate(clients, target, collectors=all_in_flight_at_once(COLLECTORS))
    slowest = max(s.seconds for s in report.sources)
    serial = clients.calls * DELAY  # what reading the sources one after another would at least take
    print(  # the figure for the record: pytest -s shows it
        f"{clients.calls} calls x {DELAY}s = {serial:.1f}s if serial; target {resolved:.2f}s, "
        f"sources {report.seconds:.2f}s (slowest {slowest:.2f}s)"
    )
    assert report.status == "healthy"
    assert [s.name for s in report.sources] == [source for source, _ in COLLECTORS]
    assert all(s.available or s.name in ("cloudtrail", "alarm_history") for s in report.sources)


# ------------------------------------------------------------------------------------------ CloudTrail
def lambda_event(name: str, request: dict, actor: str = OPERATOR, minute: int = 12) -> dict:
    """A LookupEvents item as CloudTrail returns it for a Lambda management call (versioned event name)."""
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": actor, "accountId": ACCOUNT},
        "eventTime": f"2026-11-25T10:{minute:02d}:00Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "requestParameters": request,
        **WRITE_RECORD_END,
    }
    return lookup_item(
        record, f"evt-{name}-{minute}", datetime(2026, 11, 25, 10, minute, tzinfo=UTC), actor.rsplit("/", 1)[-1]
    )


def other_event(source: str, name: str, request: dict, minute: int = 14) -> dict:
    event = lambda_event(name, request, minute=minute)
    record = json.loads(event["CloudTrailEvent"]) | {"eventSource": source}
    return {**event, "EventSource": source, "CloudTrailEvent": json.dumps(record)}


def trail(*events: dict) -> list:
    client = no_retry_client("cloudtrail")
    stubber = Stubber(client)
    stubber.add_response(
        "lookup_events",
        {"Events": list(events)},
        {
            "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
            "StartTime": ANY,
            "EndTime": ANY,
            "MaxResults": 50,
        },
    )
    clients = Clients(new_session())
    clients.use("cloudtrail", client)
    with stubber:
        return cloudtrail.collect(Scope(clients=clients, target=PATH_TARGET, window=Window.last(30, NOW)))


def test_versioned_lambda_event_names_are_read():
    assert cloudtrail.base_name("AddPermission20150331v2") == "AddPermission"
    assert cloudtrail.base_name("UpdateFunctionConfiguration20150331v2") == "UpdateFunctionConfiguration"
    assert cloudtrail.base_name("PutFunctionConcurrency20171031") == "PutFunctionConcurrency"
    assert cloudtrail.base_name("PutRolePolicy") == "PutRolePolicy"


STATE = {
    "api_permission_missing": item(
        "function_policy", 1, allows_api=False, function=FUNCTION, api=API_ID, source_arn="arn", others=[]
    ),
    "function_environment_changed": item(
        "function", 1, env_matches=False, function=FUNCTION, variable="BUCKET_NAME_PARAMETER", value="/x", expected="/p"
    ),
    "function_role_changed": item("function", 2, role_matches=False, function=FUNCTION, role="r2", expected="r1"),
    "api_throttled": item(
        "api", 1, throttled=True, zero=True, api=API_ID, stage="prod", rate=0.0, burst=0, rate_from="*/*"
    ),
    "role_permission_missing": item(
        "role_policy",
        1,
        decision="explicitDeny",
        certain=True,
        action="s3:GetObject",
        role=TARGET.role_arn,
        statements=["managed policy Deny statement X"],
    ),
}
ROLE_NAME = TARGET.role_arn.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("kind", "event"),
    [
        (
            "api_permission_missing",
            lambda_event("RemovePermission20150331v2", {"functionName": FUNCTION, "statementId": "s"}),
        ),
        (
            "function_environment_changed",
            lambda_event(
                "UpdateFunctionConfiguration20150331v2",
                {"functionName": FUNCTION, "environment": {"variables": "HIDDEN_DUE_TO_SECURITY_REASONS"}},
            ),
        ),
        (
            "function_role_changed",
            lambda_event("UpdateFunctionConfiguration20150331v2", {"functionName": FUNCTION, "role": "arn:r2"}),
        ),
        (
            "api_throttled",
            other_event(
                "apigateway.amazonaws.com",
                "UpdateStage",
                {
                    "restApiId": API_ID,
                    "stageName": "prod",
                    "patchOperations": [{"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "0"}],
                },
            ),
        ),
        ("role_permission_missing", other_event("iam.amazonaws.com", "AttachRolePolicy", {"roleName": ROLE_NAME})),
        (
            "role_permission_missing",
            other_event("iam.amazonaws.com", "PutRolePermissionsBoundary", {"roleName": ROLE_NAME}),
        ),
    ],
)
def test_cloudtrail_names_who_changed_each_new_kind(kind, event):
    changes = [e for e in trail(event) if not e.facts.get("summary")]
    assert len(changes) == 1 and not changes[0].facts["harmless"]
    root, _ = conclude([STATE[kind], *changes])
    assert root.kind == kind
    assert root.actor == OPERATOR and root.changed_at == iso_minute(event)


def iso_minute(event: dict) -> str:
    return event["EventTime"].strftime("%Y-%m-%dT%H:%M:%SZ")


def test_description_and_tag_changes_are_shown_but_never_blamed():
    described = lambda_event(
        "UpdateFunctionConfiguration20150331v2", {"functionName": FUNCTION, "description": "x"}, minute=20
    )
    tagged = lambda_event(
        "TagResource20170331v2", {"resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"}, minute=21
    )
    env = lambda_event(
        "UpdateFunctionConfiguration20150331v2",
        {"functionName": FUNCTION, "environment": {}},
        actor="arn:aws:iam::123456789012:user/bob",
        minute=10,
    )
    stage = {"restApiId": API_ID, "stageName": "prod"}
    throttled = other_event(
        "apigateway.amazonaws.com",
        "UpdateStage",
        {**stage, "patchOperations": [{"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "0"}]},
        minute=11,
    )
    renamed = other_event(
        "apigateway.amazonaws.com",
        "UpdateStage",
        {**stage, "patchOperations": [{"op": "replace", "path": "/description", "value": "prod stage"}]},
        minute=22,
    )
    items = [e for e in trail(env, throttled, described, tagged, renamed) if not e.facts.get("summary")]
    assert [e.facts["harmless"] for e in items] == [False, False, True, True, True]
    assert all("cannot break a request" in e.detail for e in items[2:])
    # Alone they are no cause; next to a real change the actor is the one who made it, not a later
    # description or tag edit on the same resource.
    assert conclude(items[2:]) == (None, [])
    root, _ = conclude([STATE["function_environment_changed"], *items])
    assert root.actor == "arn:aws:iam::123456789012:user/bob" and root.changed_at == "2026-11-25T10:10:00Z"
    root, _ = conclude([STATE["api_throttled"], *items])
    assert root.kind == "api_throttled" and root.changed_at == "2026-11-25T10:11:00Z"


# ------------------------------------------------------------------------------------------ conditions
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"NumericLessThan": {"s3:TlsVersion": "1.2"}}, []),  # the SDK never uses less than TLS 1.2
        ({"NumericLessThan": {"s3:TlsVersion": "1.3"}}, [False]),  # 1.2 or 1.3: cannot tell
        ({"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}}, [True]),
        ({"Bool": {"aws:SecureTransport": "false"}}, []),
    ],
)
def test_transport_conditions_the_functions_requests_do_not_meet_are_not_causes(condition, expected):
    assert denies(deny(Principal="*", Condition=condition)) == expected


def test_a_permissions_boundary_that_does_not_allow_is_named():
    policies = {"inline policy access": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}
    boundary = {"Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}
    decision = identity_decision(
        policies, CALLER, "s3:GetObject", OBJECT, boundary, boundary_label="permissions boundary B"
    )
    assert (decision.decision, decision.boundary) == ("implicitDeny", "permissions boundary B")


def test_an_aws_managed_deny_attached_to_the_role_is_named():
    """AWSDenyAll attached to the role: the document is AWS's, as moto ships it (moto loads AWS-managed
    policies only on request, and slowly), served through Stubber in the order the collector reads."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    arn = "arn:aws:iam::aws:policy/AWSDenyAll"
    managed = json.loads(aws_managed_policies_data)["AWSDenyAll"]
    iam = no_retry_client("iam")
    stubber = Stubber(iam)
    role_name = TARGET.role_arn.rsplit("/", 1)[-1]
    stubber.add_client_error("simulate_principal_policy", service_error_code="AccessDenied", http_status_code=403)
    stubber.add_response("list_role_policies", {"PolicyNames": []}, {"RoleName": role_name})
    stubber.add_response(
        "list_attached_role_policies",
        {"AttachedPolicies": [{"PolicyName": "AWSDenyAll", "PolicyArn": arn}]},
        {"RoleName": role_name},
    )
    stubber.add_response(
        "get_policy", {"Policy": {"PolicyName": "AWSDenyAll", "Arn": arn, "DefaultVersionId": "v2"}}, {"PolicyArn": arn}
    )
    stubber.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": json.dumps(managed["Document"]), "VersionId": "v2", "IsDefaultVersion": True}},
        {"PolicyArn": arn, "VersionId": managed["DefaultVersionId"]},
    )
    found = {"Path": "/", "RoleName": role_name, "RoleId": "AROAEXAMPLEROLEID", "Arn": TARGET.role_arn}
    stubber.add_response("get_role", {"Role": {**found, "CreateDate": NOW}}, {"RoleName": role_name})
    scope = scope_with("iam", iam)
    scope._cache["sample"] = OBJECT
    scope._cache["keys"] = []  # no listing: the stand-in key
    scope._cache["caller"] = CALLER  # the function's situation (VPC, role tags) is not what this test reads
    with stubber:
        items = role.collect(scope)
    assert [e.facts["decision"] for e in items] == ["explicitDeny"] * 3
    assert all("managed policy AWSDenyAll statement DenyAll" in e.detail for e in items)
    root, _ = conclude(items)
    assert root.kind == "role_permission_missing" and "managed policy AWSDenyAll statement DenyAll" in root.summary
    fix = remediation(root, items, TARGET)
    assert f"aws iam detach-role-policy --role-name {role_name} --policy-arn {arn}" in fix


# ------------------------------------------------------------------------------------------ unknown
def test_symptoms_without_a_cause_are_unknown_and_without_symptoms_healthy():
    weak = item(
        "bucket_policy", 1, deny=True, certain=False, sid="Maybe", index=0, actions=["s3:GetObject"], bucket="b"
    )
    assert conclude([weak])[0] is None  # a weak hypothesis without symptoms: healthy
    # 5XX datapoints are a symptom. (4XX alone were one until issue 21: now they are clients' errors
    # unless they are throttling, see test_drill_investigator_v3.py.)
    rejected = item("metrics", 1, metric="api_5xx", sum=12.0, resource="aiops-demo-dev-api/prod")
    root, hypotheses = conclude([weak, rejected])
    assert root.kind == "unknown" and root.resource == "aiops-demo-dev-api/prod"
    assert root.evidence == ("metrics-1",)
    assert [h.kind for h in hypotheses[:2]] == ["unknown", "bucket_policy_deny"]
    assert "organization service control policies (SCPs)" in [h.resource for h in hypotheses]
    lines = item("logs", 1, error_code="AccessDenied", operation="GetObject", count=2, resource=FUNCTION)
    assert conclude([lines])[0].resource == FUNCTION  # error lines alone are a symptom too


@pytest.mark.e2e  # the program's whole stack in moto (drill_fixtures.build_stack)
def test_api_5xx_datapoints_alone_make_the_stack_unknown_and_the_markdown_says_so(aws_mock):
    stack = build_stack(None, "aiops-demo-md", fault_chain=False)
    write_api_datapoints(stack, count=5, e5xx=5)
    clients = Clients(boto3.DEFAULT_SESSION)
    report = investigate(clients, resolve_target(stack.outputs, clients, account=ACCOUNT, region=REGION))
    assert report.status == "fault" and report.root_cause.kind == "unknown"
    assert any(c.startswith("aws health describe-events") for c in report.remediation)
    text = to_markdown(report)
    assert "**Status: fault, root cause unknown.**" in text
    assert "Sources, read in parallel:" in text and "| function_policy |" in text and "| cloudtrail |" in text
    assert "Tags found on the examined resources:" in text
    tags = "Application=aiops-demo, NamePrefix=aiops-demo-md, Stack=md"  # the program's default tags
    assert f"| bucket `arn:aws:s3:::{stack.bucket}` | {tags} | - |" in text


def test_a_5xx_alarm_in_alarm_alone_is_a_symptom_and_a_missing_variable_a_cause():
    alarm = item("alarms", 1, alarm="a", purpose="api_5xx", state="ALARM", resource="aiops-demo-dev-api/prod")
    assert conclude([alarm])[0].kind == "unknown"
    assert conclude([item("alarms", 1, alarm="a", purpose="invocations", state="ALARM")]) == (None, [])
    unset = item(
        "function", 1, env_matches=False, function=FUNCTION, variable="BUCKET_NAME_PARAMETER", value=None, expected="/p"
    )
    root, _ = conclude([unset, alarm])
    assert root.kind == "function_environment_changed" and "BUCKET_NAME_PARAMETER is not set" in root.summary
