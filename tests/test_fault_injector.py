"""fault_injector handler against moto: inject on ALARM, restore, status, idempotence, other statements kept,
only its own fresh alarm acts, exact-statement restore, and no lost writes under a concurrent writer."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from types import ModuleType, SimpleNamespace

import pytest
from botocore.exceptions import ClientError
from conftest import ACCOUNT, FAULT_ALARM, REGION, alarm_event, load_handler, shared_session, tls_only_statement

from components.fault_injection import MAX_EVENT_AGE_SECONDS

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
ALARM_ARN = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{FAULT_ALARM}"


@pytest.fixture(scope="module")
def test_s3(moto_for_module):
    """The test's own S3 client, made once: a client costs more than a moto call, and no test changes it
    (the hooks tests add go on the handler's client, made afresh with each handler)."""
    return shared_session().client("s3")


@pytest.fixture
def s3(aws_reset, monkeypatch, test_s3):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("TARGET_ROLE_ARN", ROLE_ARN)
    monkeypatch.setenv("ALARM_ARN", ALARM_ARN)
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", str(MAX_EVENT_AGE_SECONDS))  # as the component sets it
    test_s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return test_s3


def quiet(module: ModuleType) -> list[float]:
    """Record the pauses before read-backs instead of sleeping them."""
    pauses: list[float] = []
    module.sleep = pauses.append
    return pauses


def quiet_handler() -> ModuleType:
    """A fresh handler (it reads its environment at import) that records its pauses instead of sleeping."""
    module = load_handler("fault_injector")
    quiet(module)
    return module


@pytest.fixture
def fn(s3) -> ModuleType:
    return quiet_handler()


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


def reply(action: str, *, changed: bool, present: bool, sids: list[str] | None = None, **extra: object) -> dict:
    """The whole response expected from the handler: the keys every response carries, then `extra`."""
    return {"action": action, "changed": changed, "faultPresent": present, "sids": sids or [], **extra}


def messages(caplog, level: int = logging.INFO) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level and r.name == "root"]


# ------------------------------------------------------------------------------------------- inject
def test_alarm_adds_exactly_the_two_deny_statements_for_the_image_role(s3, fn):
    response = fn.handler(alarm_event(), None)

    assert response == reply("inject", changed=True, present=True, sids=[LIST_SID, GET_SID], attempts=1, foreignSids=[])
    assert policy(s3) == {"Version": "2012-10-17", "Statement": OURS}


def test_a_second_alarm_changes_nothing_and_writes_nothing(s3, fn):
    fn.handler(alarm_event(), None)
    before = raw_policy(s3)
    calls = record_calls(fn)

    response = fn.handler(alarm_event(), None)

    assert response == reply("inject", changed=False, present=True, attempts=0, foreignSids=[])
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


def test_a_statement_with_our_sid_but_another_role_is_kept_and_the_fault_refused(s3, fn, caplog):
    # Replacing it would drop a Deny for another principal (widen access), and a policy must not repeat a Sid.
    other = {**OURS[1], "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/replaced-image-role"}}
    before = set_policy(s3, TLS_ONLY, other)
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(), None)

    assert (response["code"], response["changed"], response["foreignSids"]) == ("FaultSidConflict", False, [GET_SID])
    assert raw_policy(s3) == before and calls == ["GetBucketPolicy"]
    [record] = messages(caplog, logging.ERROR)
    assert record.conflicting_sids == [GET_SID]


def test_a_single_statement_object_is_kept(fn):
    # The policy grammar allows "Statement" to be one object instead of a list.
    merged, sids, conflicts = fn.with_fault({"Version": "2012-10-17", "Statement": TLS_ONLY}, OURS)

    assert merged == {"Version": "2012-10-17", "Statement": [TLS_ONLY, *OURS]} and sids == [LIST_SID, GET_SID]
    assert conflicts == []


# ------------------------------------------------------------------------------------------- restore / status
def test_restore_removes_only_our_statements_and_reports_foreign_prefixed_ones(s3, fn, caplog):
    stray = {**AUDITOR, "Sid": "AiopsFaultInjectionFromAnOlderVersion"}
    set_policy(s3, TLS_ONLY, stray)
    fn.handler(alarm_event(), None)
    caplog.clear()

    with caplog.at_level(logging.INFO):
        response = fn.handler({"action": "restore"}, None)

    assert response == reply(
        "restore", changed=True, present=False, sids=[LIST_SID, GET_SID], attempts=1, foreignSids=[stray["Sid"]]
    )
    assert [json.dumps(s) for s in policy(s3)["Statement"]] == [json.dumps(TLS_ONLY), json.dumps(stray)]
    [kept] = messages(caplog, logging.WARNING)
    assert (kept.getMessage(), kept.foreign_sids) == (
        "foreign statements with the fault's Sid prefix kept",
        [stray["Sid"]],
    )


def test_restore_deletes_the_policy_when_nothing_else_is_left(s3, fn):
    fn.handler(alarm_event(), None)
    calls = record_calls(fn)

    response = fn.handler({"action": "restore"}, None)

    assert response["changed"] is True and response["sids"] == [LIST_SID, GET_SID]
    assert raw_policy(s3) is None
    assert calls == ["GetBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicy"]  # the last one: the read-back


@pytest.mark.parametrize("existing", [(), (TLS_ONLY,)], ids=["no-policy", "tls-only-policy"])
def test_restore_without_a_fault_is_a_no_op(s3, fn, existing):
    before = set_policy(s3, *existing) if existing else None
    calls = record_calls(fn)

    response = fn.handler({"action": "restore"}, None)

    assert response == reply("restore", changed=False, present=False, attempts=0, foreignSids=[])
    assert raw_policy(s3) == before
    assert calls == ["GetBucketPolicy"]


def test_status_reports_whether_the_fault_is_present(s3, fn):
    set_policy(s3, TLS_ONLY)
    assert fn.handler({"action": "status"}, None) == reply("status", changed=False, present=False, foreignSids=[])

    fn.handler(alarm_event(), None)

    assert fn.handler({"action": "status"}, None) == reply(
        "status", changed=False, present=True, sids=[LIST_SID, GET_SID], foreignSids=[]
    )


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
    assert response == reply("ignored", changed=False, present=False)
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

    assert response == reply(
        "inject", changed=False, present=False, error="PutBucketPolicy failed", code="AccessDenied"
    )
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
        # restore and status must know the role: they match the fault statements exactly
        ("TARGET_ROLE_ARN", {"action": "status"}, "MissingConfiguration"),
        ("ALARM_ARN", {"action": "restore"}, None),  # the operator's restore never needs the alarm
        ("ALARM_ARN", {"action": "status"}, None),
    ],
)
def test_missing_configuration_is_reported_only_where_it_matters(s3, monkeypatch, unset, event, answered):
    monkeypatch.delenv(unset)
    fn = load_handler("fault_injector")

    assert fn.handler(event, None).get("code") == answered


# ------------------------------------------------------------------------------------------- only its own, fresh alarm
NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


def at(module: ModuleType, now: datetime) -> None:
    """Fix the handler's clock."""
    module.clock = lambda: now


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (alarm_event(alarm_arn=ALARM_ARN.replace(FAULT_ALARM, "someone-elses-alarm")), "is not this function's alarm"),
        (alarm_event(alarm_arn=ALARM_ARN.replace(ACCOUNT, "210987654321")), "in account 210987654321, not"),
        ({**alarm_event(), "alarmArn": None}, "no alarmArn"),
    ],
    ids=["other-alarm", "other-account", "no-arn"],
)
def test_alarm_events_from_another_alarm_or_account_are_ignored(s3, fn, event, why, caplog):
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(event, None)

    assert (response["action"], response["changed"]) == ("ignored", False) and why in response["reason"]
    assert calls == [] and raw_policy(s3) is None
    [record] = messages(caplog)
    assert (record.getMessage(), record.expected_alarm_arn) == ("event ignored", ALARM_ARN)


@pytest.mark.parametrize(
    ("age", "acts", "why"),
    [
        (timedelta(seconds=299), True, None),
        (timedelta(seconds=301), False, "stale alarm event: the state changed 301 s ago"),
        (timedelta(hours=5), False, "stale alarm event"),
        (timedelta(seconds=-30), True, None),  # clocks differ a little
        (timedelta(seconds=-120), False, "from the future"),
    ],
    ids=["299s", "301s", "5h-late-retry", "30s-ahead", "120s-ahead"],
)
def test_only_a_fresh_alarm_event_acts(s3, fn, age, acts, why):
    at(fn, NOW)

    response = fn.handler(alarm_event(timestamp=NOW - age), None)

    assert (response["action"], response["changed"]) == (("inject", True) if acts else ("ignored", False))
    assert (policy(s3) is not None) is acts
    if why:
        assert why in response["reason"]


@pytest.mark.parametrize(
    "stamp", ["yesterday", "2026-11-25T12:00:00", "", 1764072000], ids=["words", "no-offset", "empty", "number"]
)
def test_an_alarm_event_without_a_usable_timestamp_is_ignored(s3, fn, stamp):
    event = alarm_event()
    event["alarmData"]["state"]["timestamp"] = stamp

    response = fn.handler(event, None)

    assert response["action"] == "ignored" and "cannot tell the event's age" in response["reason"]
    assert raw_policy(s3) is None


def test_the_age_limit_is_the_one_the_component_sets_in_the_environment(s3, monkeypatch):
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", "120")
    fn = quiet_handler()
    at(fn, NOW)

    stale = fn.handler(alarm_event(timestamp=NOW - timedelta(seconds=150)), None)
    fresh = fn.handler(alarm_event(timestamp=NOW - timedelta(seconds=100)), None)

    assert stale["action"] == "ignored" and "more than 120 s" in stale["reason"]
    assert (fresh["action"], fresh["changed"]) == ("inject", True)


def test_without_the_variable_the_age_limit_is_the_components(s3, monkeypatch):
    """A function deployed before the component set the variable falls back to the same figure."""
    monkeypatch.delenv("MAX_EVENT_AGE_SECONDS")
    fn = quiet_handler()

    assert fn.MAX_EVENT_AGE_SECONDS == MAX_EVENT_AGE_SECONDS
    assert fn.handler(alarm_event(), None)["changed"] is True


@pytest.mark.parametrize("value", ["five minutes", "", "0", "-300", "nan", "inf"])
def test_a_malformed_age_limit_lets_no_alarm_event_act_and_says_why(s3, monkeypatch, caplog, value):
    monkeypatch.setenv("MAX_EVENT_AGE_SECONDS", value)
    fn = quiet_handler()
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(), None)
    restored = fn.handler({"action": "restore"}, None)  # the operator's restore does not need it

    assert (response["code"], response["changed"]) == ("InvalidConfiguration", False)
    assert f"MAX_EVENT_AGE_SECONDS={value!r}" in response["error"]
    assert calls == ["GetBucketPolicy"] and raw_policy(s3) is None  # only the restore's read
    [record] = messages(caplog, logging.ERROR)
    assert record.getMessage() == "configuration invalid" and "positive number of seconds" in record.reason
    assert "code" not in restored


def test_the_default_clock_is_now(s3, fn):
    assert fn.handler(alarm_event(), None)["changed"] is True
    assert fn.handler(alarm_event(timestamp=datetime.now(UTC) - timedelta(minutes=6)), None)["action"] == "ignored"


def test_without_alarm_arn_no_alarm_event_acts(s3, monkeypatch, caplog):
    monkeypatch.delenv("ALARM_ARN")
    fn = load_handler("fault_injector")
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(), None)

    assert response == reply(
        "inject", changed=False, present=False, error="function is not configured", code="MissingConfiguration"
    )
    assert calls == [] and raw_policy(s3) is None
    [record] = messages(caplog)
    assert (record.levelno, record.getMessage(), record.variables) == (
        logging.ERROR,
        "configuration missing",
        ["ALARM_ARN"],
    )


# ------------------------------------------------------------------------------------------- exact restore
def test_restore_removes_our_statements_in_any_equivalent_form(s3, fn):
    # What a console edit or another serialiser may make of them: lists of one, other key order.
    list_bucket = {"Resource": [OURS[0]["Resource"]], "Action": ["s3:ListBucket"], **OURS[0]}
    list_bucket["Principal"] = {"AWS": [ROLE_ARN]}
    get_object = dict(reversed(list(OURS[1].items())))
    set_policy(s3, TLS_ONLY, list_bucket, get_object)

    status = fn.handler({"action": "status"}, None)
    response = fn.handler({"action": "restore"}, None)

    assert (status["sids"], status["foreignSids"]) == ([LIST_SID, GET_SID], [])
    assert response["sids"] == [LIST_SID, GET_SID] and response["foreignSids"] == []
    assert policy(s3)["Statement"] == [TLS_ONLY]


@pytest.mark.parametrize(
    "change",
    [
        {"Principal": {"AWS": [ROLE_ARN, f"arn:aws:iam::{ACCOUNT}:role/auditor"]}},
        {"Principal": "*"},
        {"Action": ["s3:GetObject", "s3:PutObject"]},
        {"Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        {"Effect": "Allow"},
    ],
    ids=["two-principals", "everyone", "more-actions", "condition", "allow"],
)
def test_restore_never_removes_a_prefixed_statement_with_other_content(s3, fn, change):
    other = {**OURS[1], **change}
    before = set_policy(s3, TLS_ONLY, other)

    status = fn.handler({"action": "status"}, None)
    response = fn.handler({"action": "restore"}, None)

    assert (status["faultPresent"], status["sids"], status["foreignSids"]) == (False, [], [GET_SID])
    assert (response["changed"], response["sids"], response["foreignSids"]) == (False, [], [GET_SID])
    assert raw_policy(s3) == before


def test_normalised_equality(fn):
    rules = sys.modules["fault_policy"]  # the handler's sibling module, as the handler imported it
    a = {"Sid": "S", "Action": ["s3:B", "s3:A", "s3:A"], "Principal": {"AWS": ["x"]}}
    b = {"Principal": {"AWS": "x"}, "Action": ["s3:A", "s3:B"], "Sid": "S"}

    assert rules.is_ours(a, [b])
    assert not rules.is_ours({**a, "Action": ["s3:A"]}, [b])
    assert not rules.is_ours({**a, "Sid": "T"}, [b])
    assert not rules.is_ours({**a, "Principal": {"AWS": ["x", "y"]}}, [b])
    assert not rules.is_ours("S", [b])


# ------------------------------------------------------------------------------------------- no lost writes
class RacingWriter:
    """The handler's S3 client, with a concurrent writer: right after each of the handler's writes (before
    its read-back) the rival puts ITS version of the policy, computed from what it read before the
    handler's write — exactly how an alarm action and a restore overwrite each other."""

    def __init__(self, real, rival, races: int = 1) -> None:
        self.real, self.rival, self.races = real, rival, races
        self.meta = real.meta

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    def _race(self, write, **kwargs):
        read_by_rival = policy_of(self.real)
        write(**kwargs)
        if self.races:
            self.races -= 1
            self.real.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(self.rival(read_by_rival)))

    def put_bucket_policy(self, **kwargs):
        self._race(self.real.put_bucket_policy, **kwargs)

    def delete_bucket_policy(self, **kwargs):
        self._race(self.real.delete_bucket_policy, **kwargs)


def policy_of(client) -> dict:
    try:
        return json.loads(client.get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError:
        return {"Version": "2012-10-17", "Statement": []}


def adding(statement: dict):
    return lambda read: {**read, "Statement": [*read["Statement"], statement]}


def test_an_alarm_action_racing_another_writer_loses_neither_change(s3, fn):
    set_policy(s3, TLS_ONLY)
    fn.s3 = RacingWriter(fn.s3, adding(AUDITOR))  # the rival read [TLS] and adds the auditor's grant
    pauses = quiet(fn)

    response = fn.handler(alarm_event(), None)

    assert policy(s3)["Statement"] == [TLS_ONLY, AUDITOR, *OURS]
    assert (response["changed"], response["faultPresent"], response["attempts"]) == (True, True, 2)
    assert response["sids"] == [LIST_SID, GET_SID] and "error" not in response
    assert len(pauses) == 2 and all(0.05 <= p <= 0.25 for p in pauses)  # a jittered pause before each read-back


def test_a_restore_racing_another_writer_loses_neither_change(s3, fn):
    set_policy(s3, TLS_ONLY, *OURS)
    fn.s3 = RacingWriter(fn.s3, adding(AUDITOR))  # the rival read [TLS, fault] and adds the auditor's grant

    response = fn.handler({"action": "restore"}, None)

    assert policy(s3)["Statement"] == [TLS_ONLY, AUDITOR]
    assert (response["changed"], response["faultPresent"], response["attempts"]) == (True, False, 2)


def test_a_restore_deleting_the_policy_while_a_stale_alarm_action_rewrites_it_settles_without_the_fault(s3, fn):
    set_policy(s3, *OURS)
    fn.s3 = RacingWriter(fn.s3, lambda read: read)  # the rival puts back exactly what it read: the fault

    response = fn.handler({"action": "restore"}, None)

    assert raw_policy(s3) is None
    assert (response["changed"], response["faultPresent"], response["attempts"]) == (True, False, 2)


def test_a_writer_that_never_stops_is_answered_after_a_bounded_number_of_writes(s3, fn, caplog):
    set_policy(s3, TLS_ONLY)
    fn.s3 = RacingWriter(fn.s3, adding(AUDITOR), races=100)
    calls = record_calls(fn)

    with caplog.at_level(logging.INFO):
        response = fn.handler(alarm_event(), None)

    assert (response["code"], response["attempts"], response["changed"]) == ("PolicyNotSettled", fn.MAX_WRITES, True)
    assert fn.MAX_WRITES <= 5  # bounded, and small: each write costs a pause and two S3 calls
    assert response["faultPresent"] is False  # as last read: the rival's version won
    assert calls.count("PutBucketPolicy") == 2 * fn.MAX_WRITES  # ours and the rival's, through the same client
    assert [r.getMessage() for r in messages(caplog, logging.ERROR)] == ["bucket policy did not settle"]
