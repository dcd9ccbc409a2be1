"""fault_injector handler against moto: inject on ALARM, restore, status, idempotence, other statements kept."""

from __future__ import annotations

import json
import logging
from types import ModuleType, SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, REGION, alarm_event, load_handler, tls_only_statement

BUCKET = "aiops-demo-dev-images"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aiops-demo-dev-image-api-role"
LIST_SID, GET_SID = "AiopsFaultInjectionDenyListBucket", "AiopsFaultInjectionDenyGetObject"
OURS = [
    {
        "Sid": LIST_SID,
        "Effect": "Deny",
        "Principal": {"AWS": ROLE_ARN},
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
    },
    {
        "Sid": GET_SID,
        "Effect": "Deny",
        "Principal": {"AWS": ROLE_ARN},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    },
]
TLS_ONLY = tls_only_statement(BUCKET)
AUDITOR = {
    "Sid": "AuditorRead",
    "Effect": "Allow",
    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
    "Action": ["s3:GetObject", "s3:ListBucket"],
    "Resource": [f"arn:aws:s3:::{BUCKET}/*", f"arn:aws:s3:::{BUCKET}"],
}
POLICY_CALLS = {"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"}


@pytest.fixture
def s3(aws_mock, monkeypatch):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("TARGET_ROLE_ARN", ROLE_ARN)
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client


@pytest.fixture
def fn(s3) -> ModuleType:
    return load_handler("fault_injector")


def set_policy(s3, *statements: dict, **top: str) -> str:
    text = json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)})
    s3.put_bucket_policy(Bucket=BUCKET, Policy=text)
    return text


def raw_policy(s3) -> str | None:
    try:
        return s3.get_bucket_policy(Bucket=BUCKET)["Policy"]
    except ClientError as err:
        assert err.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


def policy(s3) -> dict | None:
    text = raw_policy(s3)
    return None if text is None else json.loads(text)


def record_calls(fn: ModuleType) -> list[str]:
    calls: list[str] = []
    fn.s3.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def messages(caplog, level: int = logging.INFO) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level and r.name == "root"]


# ------------------------------------------------------------------------------------------- inject
def test_alarm_adds_exactly_the_two_deny_statements_for_the_image_role(s3, fn):
    response = fn.handler(alarm_event(), None)

    assert response == {"action": "inject", "changed": True, "faultPresent": True, "sids": [LIST_SID, GET_SID]}
    assert policy(s3) == {"Version": "2012-10-17", "Statement": OURS}


def test_a_second_alarm_changes_nothing_and_writes_nothing(s3, fn):
    fn.handler(alarm_event(), None)
    before = raw_policy(s3)
    calls = record_calls(fn)

    response = fn.handler(alarm_event(), None)

    assert response == {"action": "inject", "changed": False, "faultPresent": True, "sids": []}
    assert raw_policy(s3) == before
    assert calls == ["GetBucketPolicy"]


def test_other_statements_version_and_id_survive_inject_and_restore_unchanged(s3, fn):
    set_policy(s3, TLS_ONLY, AUDITOR, Id="ImageBucketPolicy")

    fn.handler(alarm_event(), None)
    injected = policy(s3)
    fn.handler({"action": "restore"}, None)
    restored = policy(s3)

    assert injected == {"Version": "2012-10-17", "Id": "ImageBucketPolicy", "Statement": [TLS_ONLY, AUDITOR, *OURS]}
    assert restored == {"Version": "2012-10-17", "Id": "ImageBucketPolicy", "Statement": [TLS_ONLY, AUDITOR]}
    # The same JSON values with keys in the same order, statement by statement.
    for after in (injected, restored):
        assert [json.dumps(s) for s in after["Statement"][:2]] == [json.dumps(TLS_ONLY), json.dumps(AUDITOR)]
    assert list(restored) == ["Version", "Id", "Statement"]


def test_a_statement_with_our_sid_but_another_role_is_replaced(s3, fn):
    stale = {**OURS[1], "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/replaced-image-role"}}
    set_policy(s3, TLS_ONLY, stale)

    response = fn.handler(alarm_event(), None)

    assert response["changed"] is True and response["sids"] == [LIST_SID, GET_SID]
    assert policy(s3)["Statement"] == [TLS_ONLY, *OURS]


def test_a_single_statement_object_is_kept(fn):
    # The policy grammar allows "Statement" to be one object instead of a list.
    merged, sids = fn.with_fault({"Version": "2012-10-17", "Statement": TLS_ONLY}, OURS)

    assert merged == {"Version": "2012-10-17", "Statement": [TLS_ONLY, *OURS]} and sids == [LIST_SID, GET_SID]


# ------------------------------------------------------------------------------------------- restore / status
def test_restore_removes_only_our_statements(s3, fn):
    stray = {**AUDITOR, "Sid": "AiopsFaultInjectionFromAnOlderVersion"}
    set_policy(s3, TLS_ONLY, stray)
    fn.handler(alarm_event(), None)

    response = fn.handler({"action": "restore"}, None)

    assert response == {
        "action": "restore",
        "changed": True,
        "faultPresent": False,
        "sids": [stray["Sid"], LIST_SID, GET_SID],
    }
    assert policy(s3)["Statement"] == [TLS_ONLY]


def test_restore_deletes_the_policy_when_nothing_else_is_left(s3, fn):
    fn.handler(alarm_event(), None)
    calls = record_calls(fn)

    response = fn.handler({"action": "restore"}, None)

    assert response["changed"] is True and response["sids"] == [LIST_SID, GET_SID]
    assert raw_policy(s3) is None
    assert calls == ["GetBucketPolicy", "DeleteBucketPolicy"]


@pytest.mark.parametrize("existing", [(), (TLS_ONLY,)], ids=["no-policy", "tls-only-policy"])
def test_restore_without_a_fault_is_a_no_op(s3, fn, existing):
    before = set_policy(s3, *existing) if existing else None
    calls = record_calls(fn)

    response = fn.handler({"action": "restore"}, None)

    assert response == {"action": "restore", "changed": False, "faultPresent": False, "sids": []}
    assert raw_policy(s3) == before
    assert calls == ["GetBucketPolicy"]


def test_status_reports_whether_the_fault_is_present(s3, fn):
    set_policy(s3, TLS_ONLY)
    assert fn.handler({"action": "status"}, None) == {
        "action": "status",
        "changed": False,
        "faultPresent": False,
        "sids": [],
    }

    fn.handler(alarm_event(), None)

    assert fn.handler({"action": "status"}, None) == {
        "action": "status",
        "changed": False,
        "faultPresent": True,
        "sids": [LIST_SID, GET_SID],
    }


# ------------------------------------------------------------------------------------------- ignored events
@pytest.mark.parametrize("state", ["OK", "INSUFFICIENT_DATA"])
def test_ok_and_insufficient_data_alarm_events_change_nothing(s3, fn, state, caplog):
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(state), None)

    assert response["action"] == "ignored" and response["changed"] is False
    assert state in response["reason"]
    assert calls == [] and raw_policy(s3) is None
    [record] = messages(caplog)
    assert (record.getMessage(), record.reason) == ("event ignored", response["reason"])


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (None, "expected a JSON object"),
        ("restore", "expected a JSON object"),
        ([{"action": "restore"}], "expected a JSON object"),
        ({}, "unrecognised event"),
        ({"action": "inject"}, "unknown action 'inject'"),
        ({"action": "RESTORE"}, "unknown action"),
        ({"source": "aws.cloudwatch"}, "no alarmData.state.value"),
        ({"source": "aws.cloudwatch", "alarmData": {"state": "ALARM"}}, "no alarmData.state.value"),
        ({"source": "aws.cloudwatch", "alarmData": {"state": {"value": 1}}}, "no alarmData.state.value"),
        ({**alarm_event(), "source": "aws.events"}, "unrecognised event"),
    ],
)
def test_malformed_events_are_answered_and_logged_once_without_touching_the_policy(s3, fn, event, why, caplog):
    set_policy(s3, TLS_ONLY)
    before = raw_policy(s3)
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(event, None)

    reason = response.pop("reason")
    assert response == {"action": "ignored", "changed": False, "faultPresent": False, "sids": []}
    assert why in reason
    assert calls == [] and raw_policy(s3) == before
    [record] = messages(caplog)
    assert record.levelno == logging.WARNING and record.reason == reason


# ------------------------------------------------------------------------------------------- logs and errors
def test_each_change_is_one_structured_log_line(s3, fn, caplog):
    with caplog.at_level(logging.INFO):
        fn.handler(alarm_event(), None)
        fn.handler({"action": "restore"}, None)

    injected, removed = messages(caplog)
    assert (injected.getMessage(), injected.action, injected.bucket) == ("fault injected", "inject", BUCKET)
    assert injected.sids_added == [LIST_SID, GET_SID]
    assert injected.target_role_arn == ROLE_ARN
    assert injected.alarm_name == "aiops-demo-dev-lambda-trigger-alarm"
    assert (removed.getMessage(), removed.action, removed.bucket) == ("fault removed", "restore", BUCKET)
    assert removed.sids_removed == [LIST_SID, GET_SID] and removed.policy_deleted is True


def test_access_denied_on_put_is_answered_with_the_code_not_raised(s3, fn, caplog):
    set_policy(s3, TLS_ONLY)
    before = raw_policy(s3)

    def deny(**_):
        error = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {}}
        return SimpleNamespace(status_code=403, headers={}), error

    fn.s3.meta.events.register("before-call.s3.PutBucketPolicy", deny)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(), None)

    assert response == {
        "action": "inject",
        "changed": False,
        "faultPresent": False,
        "sids": [],
        "error": "PutBucketPolicy failed",
        "code": "AccessDenied",
    }
    assert raw_policy(s3) == before
    [record] = messages(caplog)
    assert (record.levelno, record.getMessage()) == (logging.ERROR, "aws call failed")
    assert (record.error_code, record.operation, record.bucket, record.action) == (
        "AccessDenied",
        "PutBucketPolicy",
        BUCKET,
        "inject",
    )


def test_a_missing_bucket_is_answered_with_the_aws_code(s3, fn):
    s3.delete_bucket(Bucket=BUCKET)

    response = fn.handler({"action": "status"}, None)

    assert response["code"] == "NoSuchBucket" and response["error"] == "GetBucketPolicy failed"


@pytest.mark.parametrize(
    ("unset", "event", "answered"),
    [
        ("TARGET_ROLE_ARN", alarm_event(), "MissingConfiguration"),
        ("BUCKET_NAME", {"action": "restore"}, "MissingConfiguration"),
        ("TARGET_ROLE_ARN", {"action": "status"}, None),  # restore and status do not need the role
    ],
)
def test_missing_configuration_is_reported_only_where_it_matters(s3, monkeypatch, unset, event, answered):
    monkeypatch.delenv(unset)
    fn = load_handler("fault_injector")

    assert fn.handler(event, None).get("code") == answered
