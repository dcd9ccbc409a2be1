"""Collectors on stubbed clients (the sources moto lacks), the policy evaluator, ranking and rendering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import botocore.awsrequest
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber
from conftest import new_session

from drill.aws import Clients
from drill.fault_policy import fault_statements
from drill.investigator import collectors
from drill.investigator.collectors import alarm_history, alarms, bucket_policy, cloudtrail
from drill.investigator.collectors._base import Scope
from drill.investigator.conclusions import timeline
from drill.investigator.model import Evidence, Target, Window
from drill.investigator.policy import Caller, identity_decision, matching_statements
from drill.investigator.ranking import rank, root_cause
from drill.investigator.render import to_markdown

ACCOUNT = "123456789012"
PREFIX = "aiops-demo-dev"
BUCKET = f"{PREFIX}-images"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-image-api-role-1a2b3c"
FAULT_ACTOR = f"arn:aws:sts::{ACCOUNT}:assumed-role/{PREFIX}-fault-injector-role-9f8e7d/{PREFIX}-fault-injector"
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
CHANGED = datetime(2026, 11, 25, 10, 15, 42, tzinfo=UTC)

TARGET = Target(
    region="us-west-2",
    account=ACCOUNT,
    prefix=PREFIX,
    bucket=BUCKET,
    function_name=f"{PREFIX}-image-api",
    parameter_name=f"/{PREFIX}/bucket-name",
    role_arn=ROLE_ARN,
    role_id="AROAEXAMPLEROLEID",
    api_name=f"{PREFIX}-api",
    alarms={"invocations": f"{PREFIX}-lambda-trigger-alarm", "api_5xx": f"{PREFIX}-api-5xx-alarm"},
    fault_function=f"{PREFIX}-fault-injector",
)


def scope_with(service: str, client) -> Scope:
    clients = Clients(new_session())
    clients.use(service, client)
    return Scope(clients=clients, target=TARGET, window=Window.last(30, NOW))


def no_retry_client(service: str):
    return boto3.client(service, region_name="us-west-2", config=Config(retries={"total_max_attempts": 1}))


# ------------------------------------------------------------------------------------------ CloudTrail
# How the CloudTrail record of every management write call here ends.
WRITE_RECORD_END = {
    "responseElements": None,
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": ACCOUNT,
    "eventCategory": "Management",
}


def lookup_item(record: dict, event_id: str, event_time: datetime, username: str, **fields) -> dict:
    """A LookupEvents item as CloudTrail returns it around the event `record` (a write call)."""
    return {
        "EventId": event_id,
        "EventName": record["eventName"],
        "ReadOnly": "false",
        "EventTime": event_time,
        "EventSource": record["eventSource"],
        "Username": username,
        "Resources": [],
        **fields,
        "CloudTrailEvent": json.dumps(record),
    }


def put_bucket_policy_event(bucket: str = BUCKET, **record_extra) -> dict:
    """A LookupEvents item as CloudTrail returns it for the fault injector's PutBucketPolicy."""
    record = {
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAFAULTROLEID:{PREFIX}-fault-injector",
            "arn": FAULT_ACTOR,
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{ACCOUNT}:role/{PREFIX}-fault-injector-role"},
                "attributes": {"creationDate": "2026-11-25T10:15:40Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": "2026-11-25T10:15:42Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketPolicy",
        "awsRegion": "us-west-2",
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "Boto3/1.40.4 md/Botocore#1.40.4 ua/2.1 os/linux exec-env/AWS_Lambda_python3.13",
        "requestParameters": {
            "bucketPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AiopsFaultInjectionDenyListBucket",
                        "Effect": "Deny",
                        "Principal": {"AWS": ROLE_ARN},
                        "Action": "s3:ListBucket",
                        "Resource": f"arn:aws:s3:::{bucket}",
                    },
                    {
                        "Sid": "AiopsFaultInjectionDenyGetObject",
                        "Effect": "Deny",
                        "Principal": {"AWS": ROLE_ARN},
                        "Action": "s3:GetObject",
                        "Resource": f"arn:aws:s3:::{bucket}/*",
                    },
                ],
            },
            "bucketName": bucket,
            "Host": f"{bucket}.s3.us-west-2.amazonaws.com",
            "policy": "",
        },
        "requestID": "8XRQ4ZEXAMPLE",
        "eventID": "5b8a3c1e-0d6f-4f43-9c8e-2f1d7a9b6c5d",
        **WRITE_RECORD_END,
        **record_extra,
    }
    return lookup_item(
        record,
        record["eventID"],
        CHANGED,
        f"{PREFIX}-fault-injector",
        AccessKeyId="ASIAEXAMPLEKEY",
        Resources=[{"ResourceType": "AWS::S3::Bucket", "ResourceName": bucket}],
    )


def expect_lookup(stubber: Stubber, events: list[dict], next_token: str | None = None) -> None:
    """One LookupEvents page of the window's write events (the collector's only query)."""
    expected = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": ANY,
        "EndTime": ANY,
        "MaxResults": 50,
    }
    stubber.add_response(
        "lookup_events",
        {"Events": events, **({"NextToken": next_token} if next_token else {})},
        expected,
    )


def test_cloudtrail_collector_reads_actor_and_time_of_our_resources_changes():
    client = no_retry_client("cloudtrail")
    stubber = Stubber(client)
    expect_lookup(
        stubber,
        [
            put_bucket_policy_event(),
            put_bucket_policy_event(bucket="someone-elses-bucket"),  # another resource: ignored
            put_bucket_policy_event(errorCode="AccessDenied"),  # a refused call changed nothing
        ],
    )
    with stubber:
        items = cloudtrail.collect(scope_with("cloudtrail", client))
    stubber.assert_no_pending_responses()

    changes = [e for e in items if not e.facts.get("summary")]
    assert len(changes) == 1
    change = changes[0]
    assert change.facts["actor"] == FAULT_ACTOR
    assert change.facts["changed_at"] == "2026-11-25T10:15:42Z" == change.time
    assert change.facts["injected_sids"] == ["AiopsFaultInjectionDenyListBucket", "AiopsFaultInjectionDenyGetObject"]
    assert "by the fault injector function aiops-demo-dev-fault-injector" in change.detail
    assert change.event  # on the timeline
    summary = items[-1]
    assert summary.facts["summary"] and "may not have arrived yet" in summary.detail


def test_cloudtrail_actor_and_time_become_the_root_causes():
    client = no_retry_client("cloudtrail")
    stubber = Stubber(client)
    expect_lookup(stubber, [put_bucket_policy_event()])
    with stubber:
        evidence = cloudtrail.collect(scope_with("cloudtrail", client))
    deny = Evidence(
        "bucket_policy-1",
        "bucket_policy",
        "2026-11-25T10:30:00Z",
        "deny",
        {
            "deny": True,
            "certain": True,
            "sid": "AiopsFaultInjectionDenyGetObject",
            "index": 1,
            "actions": ["s3:GetObject"],
            "injected": True,
            "bucket": BUCKET,
        },
    )
    hypotheses = rank([deny, *evidence])
    root = root_cause(hypotheses)
    assert root.kind == "bucket_policy_deny"
    assert root.actor == FAULT_ACTOR
    assert root.changed_at == "2026-11-25T10:15:42Z"
    assert "cloudtrail-1" in root.evidence
    assert root.confidence == 0.7  # state 0.6 + CloudTrail 0.1


def test_cloudtrail_throttled_midway_keeps_what_it_read_and_says_what_it_missed():
    client = no_retry_client("cloudtrail")
    stubber = Stubber(client)
    expect_lookup(stubber, [put_bucket_policy_event()], next_token="page-2")
    stubber.add_client_error("lookup_events", service_error_code="ThrottlingException", http_status_code=400)
    with stubber:
        items = cloudtrail.collect(scope_with("cloudtrail", client))
    assert items[0].facts["event_name"] == "PutBucketPolicy"
    assert "Reading stopped: page 2 failed (ThrottlingException)" in items[-1].detail


@pytest.mark.parametrize(
    ("code", "reason"),
    [("AccessDeniedException", "not permitted"), ("ThrottlingException", "throttled")],
)
def test_an_unreadable_cloudtrail_becomes_an_unavailable_item(code, reason):
    client = no_retry_client("cloudtrail")
    stubber = Stubber(client)
    stubber.add_client_error("lookup_events", service_error_code=code, http_status_code=400)
    with stubber:
        items = collectors.run_collector("cloudtrail", cloudtrail.collect, scope_with("cloudtrail", client))
    assert [(i.id, i.available) for i in items] == [("cloudtrail-unavailable", False)]
    assert reason in items[0].detail and code in items[0].detail


# ------------------------------------------------------------------------------------------ alarm history
def history_item(alarm: str, old: str, new: str, at: datetime) -> dict:
    return {
        "AlarmName": alarm,
        "AlarmType": "MetricAlarm",
        "Timestamp": at,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {old} to {new}",
        "HistoryData": json.dumps(
            {
                "version": "1.0",
                "oldState": {"stateValue": old, "stateReason": "Threshold Crossed: no datapoints"},
                "newState": {"stateValue": new, "stateReason": "Threshold Crossed: 1 datapoint [3.0] was >= 3.0"},
            }
        ),
    }


def test_alarm_history_collector_puts_state_changes_on_the_timeline():
    client = no_retry_client("cloudwatch")
    stubber = Stubber(client)
    fired = datetime(2026, 11, 25, 10, 15, 30, tzinfo=UTC)
    for name in TARGET.alarms.values():
        items = [history_item(name, "OK", "ALARM", fired)] if name.endswith("trigger-alarm") else []
        stubber.add_response(
            "describe_alarm_history",
            {"AlarmHistoryItems": items},
            {
                "AlarmName": name,
                "HistoryItemType": "StateUpdate",
                "StartDate": ANY,
                "EndDate": ANY,
                "MaxRecords": 50,
                "ScanBy": "TimestampAscending",
            },
        )
    with stubber:
        items = alarm_history.collect(scope_with("cloudwatch", client))
    assert len(items) == 1
    item = items[0]
    assert item.facts == {"alarm": f"{PREFIX}-lambda-trigger-alarm", "purpose": "invocations", "to_state": "ALARM"}
    assert item.time == "2026-11-25T10:15:30Z"
    assert item.event == f"{PREFIX}-lambda-trigger-alarm: Alarm updated from OK to ALARM"

    # The alarms collector sees the same change as the current state: the timeline lists it once.
    state = Evidence(
        "alarms-1",
        "alarms",
        "2026-11-25T10:15:30Z",
        "ALARM",
        {"alarm": f"{PREFIX}-lambda-trigger-alarm", "to_state": "ALARM", "state": "ALARM"},
        event=f"{PREFIX}-lambda-trigger-alarm changed to ALARM",
    )
    entries = timeline([item, state], Window.last(30, NOW))
    assert [t.event for t in entries[:-1]] == [item.event]


def answer_by_operation(client, answers: dict[str, dict]) -> None:
    """Answer each operation with its own response, whatever the order of the calls: the collectors run
    concurrently on one client, and Stubber's one queue would hand one collector's answer to the other."""

    def answer(model, **_):
        parsed = answers[model.name]
        status = parsed.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        return botocore.awsrequest.AWSResponse(None, status, {}, None), parsed

    client.meta.events.register_first("before-call.*.*", answer)


def test_alarm_history_not_implemented_is_reported_and_the_rest_goes_on():
    client = no_retry_client("cloudwatch")
    not_implemented = {"Error": {"Code": "NotImplemented", "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": 501}}
    answer_by_operation(client, {"DescribeAlarmHistory": not_implemented, "DescribeAlarms": {"MetricAlarms": []}})
    scope = scope_with("cloudwatch", client)
    items = collectors.collect_all(
        scope, [(alarm_history.SOURCE, alarm_history.collect), (alarms.SOURCE, alarms.collect)]
    )
    assert items[0].id == "alarm_history-unavailable" and "not implemented" in items[0].detail
    assert [i.source for i in items[1:]] == ["alarms", "alarms"]  # both alarms reported missing
    assert all("does not exist" in i.detail for i in items[1:])


# ------------------------------------------------------------------------------------------ policy evaluation
CALLER = Caller.lambda_role(
    ROLE_ARN,
    f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE_ARN.rsplit('/', 1)[-1]}/{PREFIX}-image-api",
    ACCOUNT,
    "AROAEXAMPLEROLEID",
)
OBJECT = f"arn:aws:s3:::{BUCKET}/image-1.png"


def denies(statement: dict, action: str = "s3:GetObject", resource: str = OBJECT) -> list[bool]:
    """`certain` of each Deny that applies to the image role (empty: none applies)."""
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    found = matching_statements(
        policy, policy="bucket policy", caller=CALLER, action=action, resource=resource, resource_policy=True
    )
    return [m.certain for m in found if m.effect == "Deny"]


def deny(**fields) -> dict:
    return {
        "Sid": "S",
        "Effect": "Deny",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
        "Principal": {"AWS": ROLE_ARN},
        **fields,
    }


def test_tls_only_deny_does_not_count_against_the_role():
    tls = deny(Principal="*", Action="s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})
    assert denies(tls) == []
    assert denies(deny(Principal="*", Action="s3:*", Condition={"Bool": {"aws:SecureTransport": "true"}})) == [True]


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (deny(), [True]),  # by role ARN
        (deny(Principal={"AWS": [f"arn:aws:iam::{ACCOUNT}:role/other", ROLE_ARN]}), [True]),
        (deny(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/other"}), []),
        (deny(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), [True]),  # the whole account
        (deny(Principal={"Service": "lambda.amazonaws.com"}), []),
        (deny(Action="s3:Get*"), [True]),
        (deny(Action="S3:*"), [True]),  # actions are case-insensitive
        (deny(Action="s3:List*"), []),
        (deny(NotAction="s3:PutObject", Action=None), [True]),
        (deny(Resource=f"arn:aws:s3:::{BUCKET}/private/*"), []),
        (deny(Resource="arn:aws:s3:::aiops-demo-*/*"), [True]),
        (
            deny(Principal="*", Condition={"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/aiops-demo-dev-*"}}),
            [True],
        ),
        (deny(Principal="*", Condition={"StringEquals": {"aws:PrincipalArn": ROLE_ARN}}), [True]),
        (deny(Principal="*", Condition={"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/x"}}), []),
        # "everyone except this role": does not deny the role
        (deny(Principal="*", Condition={"StringNotLike": {"aws:PrincipalArn": ROLE_ARN}}), []),
        (deny(Principal="*", Condition={"StringNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/admin"}}), [True]),
        (deny(Principal="*", Condition={"StringLike": {"aws:userid": "AROAEXAMPLEROLEID:*"}}), [True]),
        # a condition on a key the evaluator cannot know: possible, not certain
        (deny(Principal="*", Condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}), [False]),
    ],
)
def test_bucket_policy_denies_matching_the_image_role(statement, expected):
    statement = {k: v for k, v in statement.items() if v is not None}
    assert denies(statement) == expected


def test_not_principal_exempts_the_role_only_with_its_session_and_account():
    session = CALLER.session_arn
    only_role = deny(NotPrincipal={"AWS": [ROLE_ARN]}, Principal=None)
    exempt = deny(NotPrincipal={"AWS": [ROLE_ARN, session, f"arn:aws:iam::{ACCOUNT}:root"]}, Principal=None)
    someone_else = deny(NotPrincipal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"}, Principal=None)
    assert denies({k: v for k, v in only_role.items() if v is not None}) == [True]
    assert denies({k: v for k, v in exempt.items() if v is not None}) == []
    assert denies({k: v for k, v in someone_else.items() if v is not None}) == [True]


def least_privilege() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
            {"Sid": "ReadImages", "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"},
        ],
    }


def test_role_policy_evaluation_with_wildcards_deny_and_boundary():
    policies = {"inline policy access": least_privilege()}
    assert identity_decision(policies, CALLER, "s3:GetObject", OBJECT).decision == "allowed"
    assert identity_decision(policies, CALLER, "ssm:GetParameter", "arn:aws:ssm:*").decision == "implicitDeny"
    broad = {"managed policy ReadOnly": {"Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}]}}
    assert identity_decision(broad, CALLER, "s3:GetObject", OBJECT).decision == "allowed"
    blocked = {
        **policies,
        "inline policy deny": {"Statement": {"Sid": "No", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}},
    }
    decision = identity_decision(blocked, CALLER, "s3:GetObject", OBJECT)
    assert decision.decision == "explicitDeny"
    assert [m.label for m in decision.statements] == ["inline policy deny statement No"]
    boundary = {"Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    assert identity_decision(policies, CALLER, "s3:GetObject", OBJECT, boundary).decision == "implicitDeny"


# ------------------------------------------------------------------------------------------ ranking
def item(source: str, number: int, **facts) -> Evidence:
    return Evidence(f"{source}-{number}", source, "2026-11-25T10:20:00Z", source, facts)


def test_error_lines_with_the_matching_code_raise_confidence_and_are_cited():
    state = item("bucket_policy", 1, deny=True, certain=True, sid="X", actions=["s3:GetObject"], bucket=BUCKET)
    logs = item("logs", 1, error_code="AccessDenied", operation="GetObject", bucket=BUCKET, count=4)
    other_logs = item("logs", 2, error_code="ParameterNotFound", operation="GetParameter", count=1)
    alarm = item("alarms", 1, alarm="a", purpose="api_5xx", state="ALARM")
    top = rank([state, logs, other_logs, alarm])[0]
    assert top.kind == "bucket_policy_deny"
    assert top.confidence == 0.85  # 0.6 state + 0.2 logs + 0.05 symptom
    assert top.evidence == ("bucket_policy-1", "logs-1", "alarms-1")


def test_ranking_prefers_the_better_supported_cause_and_breaks_ties_by_request_path():
    policy = item("bucket_policy", 1, deny=True, certain=True, sid="X", actions=["s3:GetObject"], bucket=BUCKET)
    param = item("parameter", 1, exists=False, name=TARGET.parameter_name)
    logs = item("logs", 1, error_code="ParameterNotFound", operation="GetParameter", count=2)
    assert [h.kind for h in rank([policy, param, logs])] == ["parameter_missing", "bucket_policy_deny"]
    empty = item("images", 1, count=0, bucket=BUCKET, bucket_exists=True)
    deny_role = item("role_policy", 1, decision="implicitDeny", certain=True, action="s3:GetObject", role=ROLE_ARN)
    # equal confidence (0.6 each): the request meets the role's permissions before the objects
    assert [h.kind for h in rank([empty, deny_role])] == ["role_permission_missing", "no_images"]


def test_weak_hypotheses_leave_the_stack_healthy():
    # (Until issue 21 a parameter naming another existing bucket was the weak example here; now any
    # parameter that is not the stack's bucket exactly holds, see test_drill_investigator_v3.py.)
    maybe = item(
        "bucket_policy", 1, deny=True, certain=False, sid="Maybe", index=0, actions=["s3:GetObject"], bucket=BUCKET
    )
    hypotheses = rank([maybe])
    assert hypotheses[0].kind == "bucket_policy_deny" and hypotheses[0].confidence < 0.5
    assert root_cause(hypotheses) is None
    assert rank([item("concurrency", 1, reserved=None, function="f"), item("images", 1, count=5, bucket=BUCKET)]) == []


def test_markdown_lists_unavailable_sources_and_the_cloudtrail_delay():
    from drill.investigator import engine

    def unavailable_source(scope):
        raise collectors.SourceUnavailable("not allowed here")

    def throttled(scope):
        return [
            Evidence(
                "concurrency-1",
                "concurrency",
                "2026-11-25T10:29:00Z",
                "reserved concurrency 0",
                {"reserved": 0, "function": TARGET.function_name},
            )
        ]

    report = engine.investigate(
        Clients(new_session()),
        TARGET,
        now=NOW,
        collectors=[("cloudtrail", unavailable_source), ("concurrency", throttled)],
    )
    text = to_markdown(report)
    assert report.root_cause.kind == "function_throttled"
    assert "unavailable: cloudtrail" in text
    assert "cloudtrail was unavailable: not allowed here" in text
    assert "Without CloudTrail the actor and time of the change are unknown" in text
    assert report.window.start == NOW - timedelta(minutes=30)


def test_metric_period_keeps_long_windows_within_the_datapoint_limit():
    from drill.investigator.collectors.metrics import MAX_POINTS, period_seconds

    def scope(minutes: float) -> Scope:
        return Scope(clients=None, target=TARGET, window=Window.last(minutes, NOW))

    assert period_seconds(scope(30)) == 60
    week = period_seconds(scope(7 * 24 * 60))
    assert week % 60 == 0 and 7 * 24 * 3600 / week <= MAX_POINTS


def test_a_deny_is_injected_only_when_it_is_exactly_one_of_the_fault_injectors_statements():
    """`python -m drill restore` removes only the exact fault statements, so only those are called injected."""
    exact = fault_statements(BUCKET, ROLE_ARN)[1]
    look_alike = {**exact, "Sid": "AiopsFaultInjectionDenyByHand", "Action": ["s3:GetObject", "s3:GetObjectAcl"]}
    client = no_retry_client("s3")
    stubber = Stubber(client)
    policy = {"Version": "2012-10-17", "Statement": [exact, look_alike]}
    stubber.add_response("get_bucket_policy", {"Policy": json.dumps(policy)}, {"Bucket": BUCKET})
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": "a.jpg"}]}, {"Bucket": BUCKET})
    with stubber:
        scope = scope_with("s3", client)
        scope._cache["caller"] = CALLER  # the function's situation (VPC, role tags) is not what this test reads
        found = bucket_policy.collect(scope)
    assert [(e.facts["sid"], e.facts["injected"]) for e in found] == [
        ("AiopsFaultInjectionDenyGetObject", True),
        ("AiopsFaultInjectionDenyByHand", False),
    ]
    assert "added by the fault injector" in found[0].detail and "fault injector" not in found[1].detail
