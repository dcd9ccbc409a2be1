"""The whole drill in moto with the real handlers called in process (moto cannot run Lambda).

A small "world" stands in for what AWS does around the handlers: the function caller dispatches by
function name, the API probe calls the image handler with an API Gateway proxy event, Lambda's JSON
log lines go to the function's log group, and CloudWatch's alarm evaluation is simulated on the
clock: once the image function has been invoked threshold times, the invocations alarm goes to ALARM
and its action runs the fault handler with a real-shaped alarm event.
"""

from __future__ import annotations

import contextvars
import io
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import load_handler, new_session
from drill_fixtures import ACCOUNT, REGION, MotoStack, build_stack, inject_fault_like_the_fault_function
from test_drill_cli import write_outputs

from drill import cli, steps
from drill.aws import Clients, account_id
from drill.errors import FunctionFailed
from drill.rehearsal.command import failed_step, run_drill
from drill.rehearsal.lambda_logs import json_line
from drill.stack import StackOutputs
from drill.steps.render import run_text

pytestmark = pytest.mark.e2e  # the whole drill against the program's stack in moto: the `.ci/run` e2e step

PREFIX = "aiops-demo-dev"
current_function: contextvars.ContextVar[str | None] = contextvars.ContextVar("current_function", default=None)


class LambdaJsonLogs(logging.Handler):
    """Writes the running handler's records to /aws/lambda/<function> in Lambda's JSON log format (the
    rehearsal's `json_line`)."""

    def __init__(self, logs) -> None:
        super().__init__(level=logging.INFO)
        self.logs = logs
        self.streams: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        function = current_function.get()
        if function is None:
            return
        group, stream = f"/aws/lambda/{function}", "2026/11/25/[$LATEST]0123456789abcdef"
        if group not in self.streams:
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
            self.streams.add(group)
        line = json_line(record, request_id="c6af9ac6-7b61-11e6-9a41-93e812345678")
        self.logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(record.created * 1000), "message": line}],
        )


class World:
    """The seams the drill's steps take, backed by moto and the real handlers."""

    def __init__(self, stack: MotoStack, image: Any, fault: Any) -> None:
        self.stack, self.image, self.fault = stack, image, fault
        self.cloudwatch = stack.client("cloudwatch")
        self.now = 0.0
        self.invocations = 0
        self.statuses: list[int] = []
        self.alarm_events: list[dict] = []
        self.alarm_fires = True  # False: CloudWatch never evaluates (a trigger that times out)

    # -- clock
    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.evaluate_alarms()

    # -- Lambda
    def call(self, function: str, event: dict) -> Any:
        token = current_function.set(function)
        try:
            if function == self.stack.function:
                self.invocations += 1
                return self.image.handler(event, None)
            if function == self.stack.outputs.get("BucketPolicyLambdaName"):
                return self.fault.handler(event, None)
            raise AssertionError(f"no such function {function}")
        finally:
            current_function.reset(token)

    # -- API Gateway
    def probe(self) -> steps.Probe:
        answer = self.call(self.stack.function, steps.api_gateway_event())
        status = answer["statusCode"]
        self.statuses.append(status)
        if status >= 500:  # the API's 5XX alarm would follow
            self.cloudwatch.set_alarm_state(
                AlarmName=self.stack.outputs["ApiGateway5XXAlarmName"],
                StateValue="ALARM",
                StateReason="Threshold Crossed: 5XXError >= 1",
            )
        return steps.Probe(status, 12.0)

    # -- CloudWatch
    def evaluate_alarms(self) -> None:
        name = self.stack.outputs.get("CloudWatchAlarmName")
        if not (name and self.alarm_fires):
            return
        alarm = self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == "ALARM" or self.invocations < alarm["Threshold"]:
            return
        reason = f"Threshold Crossed: 1 datapoint [{self.invocations}.0] was >= the threshold ({alarm['Threshold']})."
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason=reason)
        event = {
            "source": "aws.cloudwatch",
            "alarmArn": alarm["AlarmArn"],
            "accountId": ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "region": REGION,
            "alarmData": {
                "alarmName": name,
                "state": {"value": "ALARM", "reason": reason, "timestamp": datetime.now(UTC).isoformat()},
                "previousState": {"value": "OK", "reason": "Threshold Crossed", "timestamp": "2026-11-25T10:00:00Z"},
                "configuration": {
                    "metrics": [
                        {
                            "id": "m1",
                            "metricStat": {
                                "metric": {
                                    "namespace": "AWS/Lambda",
                                    "name": "Invocations",
                                    "dimensions": {"FunctionName": self.stack.function},
                                },
                                "period": 60,
                                "stat": "Sum",
                            },
                            "returnData": True,
                        }
                    ]
                },
            },
        }
        if not alarm["ActionsEnabled"]:  # disarmed: the state changes, the action does not run
            return
        self.alarm_events.append(event)
        # The alarm action invokes the fault function asynchronously; its answer goes nowhere.
        self.call(self.stack.outputs["BucketPolicyLambdaName"], event)

    def drill(self, outputs: StackOutputs | None = None) -> steps.Drill:
        clients = Clients(new_session())
        return steps.Drill(
            outputs=outputs or StackOutputs(self.stack.outputs, "test"),
            clients=clients,
            account=account_id(clients),
            region=REGION,
            api_probe=self.probe,
            function_caller=self.call,
            clock=self.clock,
            sleep=self.sleep,
        )


@pytest.fixture
def world(aws_mock, monkeypatch):
    stack = build_stack(None, PREFIX, tls_only_policy=False)  # moto would apply TLS-only to every GetObject
    monkeypatch.setenv("BUCKET_NAME_PARAMETER", stack.parameter)
    monkeypatch.setenv("IMAGE_CACHE_TTL_SECONDS", "60")
    monkeypatch.setenv("BUCKET_NAME", stack.bucket)
    monkeypatch.setenv("TARGET_ROLE_ARN", stack.role_arn)
    monkeypatch.setenv("ALARM_ARN", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{PREFIX}-lambda-trigger-alarm")
    logs = LambdaJsonLogs(stack.client("logs"))
    logging.getLogger().addHandler(logs)
    try:
        fault = load_handler("fault_injector")
        fault.sleep = lambda _seconds: None  # its pause before each read-back: no write races it here
        yield World(stack, load_handler("image_api"), fault)
    finally:
        logging.getLogger().removeHandler(logs)


def run_cli(world: World, *argv: str, tmp_path) -> tuple[int, str, str]:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(world.stack.outputs))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        [*argv, "--outputs", str(path)], out=out, err=err, make=lambda args, outputs, stream: world.drill(outputs)
    )
    return code, out.getvalue(), err.getvalue()


def test_run_goes_200_then_5xx_then_finds_the_injected_deny_then_200(world, tmp_path):
    code, out, err = run_cli(world, "run", "--json", "--interval", "5", "--restore-timeout", "20", tmp_path=tmp_path)
    assert code == 0, out + err
    result = json.loads(out)
    assert result["ok"] is True
    names = [s["step"] for s in result["steps"]]
    assert names == ["status", "trigger", "investigate", "restore", "status"]
    first, trigger, report, restore, last = result["steps"]

    # 200 -> 5XX -> 200 as the API saw it
    assert first["api"]["status"] == 200 and first["fault_present"] is False and first["image_count"] == 3
    assert world.statuses[0] == 200 and 500 in world.statuses and world.statuses[-1] == 200
    assert trigger["invocations"] == 3 and trigger["alarm_reached"] and trigger["api_failed"]
    events = [e["event"] for e in trigger["timeline"]]
    assert events[3:5] == [f"alarm {PREFIX}-lambda-trigger-alarm is ALARM", "API answers HTTP 500 in 12 ms"]
    assert trigger["fault_sids"] == ["AiopsFaultInjectionDenyListBucket", "AiopsFaultInjectionDenyGetObject"]
    assert len(world.alarm_events) == 1  # the action ran once, on the change to ALARM

    # the report names the injected deny, cites the function's error lines and the 5XX alarm
    assert report["status"] == "fault"
    assert report["root_cause"]["kind"] == "bucket_policy_deny"
    assert report["root_cause"]["resource"] == world.stack.bucket
    cited = report["hypotheses"][0]["evidence"]
    assert any(i.startswith("logs-") for i in cited) and any(i.startswith("alarms-") for i in cited)
    assert report["remediation"][0] == "python -m drill restore"
    assert any("GetObject" in step for step in report["impact_path"])

    assert restore["api_status"] == 200 and restore["fault_sids"] == []
    assert restore["path"] == "function"  # the fault function answered as expected, nothing else was needed
    assert last["api"]["status"] == 200 and last["fault_present"] is False
    assert world.stack.client("s3").list_objects_v2(Bucket=world.stack.bucket)["KeyCount"] == 4


def test_run_that_never_alarms_fails_but_still_restores(world, tmp_path):
    world.alarm_fires = False
    code, out, _ = run_cli(
        world, "run", "--trigger-timeout", "30", "--restore-timeout", "20", "--interval", "10", tmp_path=tmp_path
    )
    assert code == 1
    table = out.splitlines()[-5:]
    assert table[0].split() == ["step", "result", "seconds", "summary"]
    assert [row.split()[:2] for row in table[1:]] == [
        ["status", "ok"],
        ["trigger", "FAILED"],
        ["restore", "ok"],
        ["status", "ok"],
    ]
    assert "timed out after 30s" in out
    assert world.now >= 30  # the fake clock ran out, the real one did not


def test_status_reports_the_fault_and_exits_1_while_it_is_present(world, tmp_path):
    world.invocations = 3
    world.evaluate_alarms()  # the fault is in
    code, out, _ = run_cli(world, "status", "--json", tmp_path=tmp_path)
    status = json.loads(out)
    assert code == 1
    assert status["fault_present"] is True and status["api"]["status"] == 500
    assert status["alarms"][world.stack.outputs["CloudWatchAlarmName"]] == "ALARM"


def test_restore_without_the_fault_function_removes_only_the_injected_statements(world):
    s3 = world.stack.client("s3")
    keep = {
        "Sid": "DenyDeleteBucket",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:DeleteBucket",
        "Resource": f"arn:aws:s3:::{world.stack.bucket}",
    }
    s3.put_bucket_policy(Bucket=world.stack.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [keep]}))
    world.invocations = 3
    world.evaluate_alarms()
    assert world.probe().status == 500
    outputs = {k: v for k, v in world.stack.outputs.items() if k != "BucketPolicyLambdaName"}

    result = steps.restore(world.drill(StackOutputs(outputs, "test")), timeout=10, interval=1)

    assert result.ok, result.summary
    assert result.data["path"] == "direct" and any("directly" in line for line in result.lines)
    policy = json.loads(s3.get_bucket_policy(Bucket=world.stack.bucket)["Policy"])
    assert policy["Statement"] == [keep]
    assert world.statuses[-1] == 200


def test_trigger_waits_for_an_alarm_left_in_alarm_because_its_action_only_runs_on_a_change(world):
    name = world.stack.outputs["CloudWatchAlarmName"]
    world.cloudwatch.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="last drill")
    result = steps.trigger(world.drill(), timeout=20, interval=10)
    assert not result.ok
    assert "stayed in ALARM" in result.summary
    assert world.invocations == 0  # invoking now would not run the fault injector


def test_trigger_arms_a_disarmed_alarm_and_counts_only_invocations_that_succeeded(world):
    name = world.stack.outputs["CloudWatchAlarmName"]
    world.cloudwatch.disable_alarm_actions(AlarmNames=[name])
    calls = []

    def flaky(function: str, event: dict):
        calls.append(function)
        if len(calls) % 2:  # every other call fails, as a throttled or erroring function would
            raise FunctionFailed(function, "Unhandled", {"errorMessage": "boom"})
        return world.call(function, event)

    drill = world.drill()
    drill.function_caller = flaky
    result = steps.trigger(drill, timeout=120, interval=1)
    assert result.ok, result.summary
    assert result.data["invocations"] == 3 and result.data["attempts"] == 6
    assert sum("not counted" in line for line in result.lines) == 3
    assert result.lines[0].endswith(f"armed {name} (its actions were disabled)")
    assert len(world.alarm_events) == 1  # armed before the invocations, so the action ran


FAULT_FUNCTION_FAILURES = {
    "throttled": ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "Invoke"),
    "not deployed": ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no"}}, "Invoke"),
    "function error": FunctionFailed("fault-injector", "Unhandled", {"errorMessage": "boom"}),
    "error answer": {"action": "restore", "changed": False, "sids": [], "error": "PutBucketPolicy failed"},
    "unexpected answer": {"action": "ignored", "changed": False},
    "no answer": None,
    # Answers like a restore but leaves the fault in place: the read-back catches it.
    "claims success": {"action": "restore", "changed": True, "faultPresent": False, "sids": []},
}


def test_restore_removes_the_fault_directly_whatever_stops_the_fault_function(world):
    fault_function = world.stack.outputs["BucketPolicyLambdaName"]

    def failing(answer):
        def call(function: str, event: dict):
            if function != fault_function:
                return world.call(function, event)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call

    drill = world.drill()
    for case, answer in FAULT_FUNCTION_FAILURES.items():
        inject_fault_like_the_fault_function(world.stack)
        assert world.probe().status == 500
        drill.function_caller, drill.invoked = failing(answer), []
        result = steps.restore(drill, timeout=2, interval=1)
        assert result.ok, (case, result.summary)
        assert result.data["path"] == "direct" and result.data["fault_sids"] == [], case
        assert world.statuses[-1] == 200, case
        # A failed call or a failure answer is recognised as such, not only by reading the policy back.
        recognised = not any("after the fault function's restore" in line for line in result.lines)
        assert recognised == (case != "claims success"), case


class FailingOnce:
    """A client whose first call of one operation is refused (AccessDenied); every other call is the real one."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client, self.operation, self.refused = client, operation, 0

    def __getattr__(self, name: str) -> Any:
        if name != self.operation or self.refused:
            return getattr(self.client, name)
        self.refused += 1

        def refuse(**kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, name)

        return refuse


@pytest.mark.parametrize("armed_before", [False, True], ids=["disarmed", "armed"])
def test_restore_that_cannot_read_the_alarm_leaves_it_as_it_was_though_later_reads_work(world, armed_before):
    """The alarm is the safety catch, not a precondition: a refused DescribeAlarms is reported with its
    reason and the fault still goes. The alarm's arming is then unknown, so the restore never arms it, even
    though every later read works and would call re-arming safe."""
    name = world.stack.outputs["CloudWatchAlarmName"]
    if not armed_before:
        world.cloudwatch.disable_alarm_actions(AlarmNames=[name])
    inject_fault_like_the_fault_function(world.stack)
    drill = world.drill()
    refusing = FailingOnce(drill.clients.cloudwatch, "describe_alarms")
    drill.clients.use("cloudwatch", refusing)
    result = steps.restore(drill, timeout=2, interval=1)
    assert refusing.refused == 1
    assert result.ok, result.summary
    assert result.data["fault_sids"] == [] and world.statuses[-1] == 200
    assert armed(world) is armed_before  # neither disarmed nor armed by this restore
    assert result.data["armed"] is False and "python -m drill arm" in result.summary
    refused = "could not read it: ClientError AccessDenied"
    assert result.lines[0].endswith(f"{name}: {refused}; removing the fault all the same")
    assert f"alarm left as it was (this restore {refused}" in result.summary


def armed(world: World) -> bool:
    name = world.stack.outputs["CloudWatchAlarmName"]
    return world.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"]


def test_a_cleanup_that_fails_is_reported_in_the_table(world, tmp_path):
    """Ctrl-C during trigger, then the restore itself breaks: table printed, exit 1 (not 130)."""
    world.alarm_fires = False

    stopped: list[float] = []

    def interrupted(seconds: float) -> None:
        stopped.append(seconds)
        raise KeyboardInterrupt

    def broken_probe() -> steps.Probe:
        if stopped:
            raise RuntimeError("probe broke")
        return world.probe()

    drill = world.drill()
    drill.sleep, drill.api_probe = interrupted, broken_probe
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["run", "--restore-timeout", "10", "--outputs", write_outputs(tmp_path, world.stack.outputs)],
        out=out,
        err=err,
        make=lambda args, outputs, stream: drill,
    )
    assert code == 1
    rows = [line.split(maxsplit=3) for line in out.getvalue().splitlines()[-4:]]
    assert rows[1][:2] == ["trigger", "FAILED"] and rows[1][3] == "interrupted by Ctrl-C"
    assert rows[2][:2] == ["restore", "FAILED"]
    assert rows[2][3].startswith("cleanup failed (error: RuntimeError: probe broke)")
    assert "python -m drill restore" in rows[2][3]
    assert rows[3] == ["stopped", "early:", "interrupted", "by Ctrl-C"]


def test_trigger_command_that_times_out_restores_and_prints_the_table(world, tmp_path):
    world.alarm_fires = False
    inject_fault_like_the_fault_function(world.stack)  # from an earlier drill: reported, then cleaned up
    code, out, _ = run_cli(
        world, "trigger", "--timeout", "20", "--restore-timeout", "20", "--interval", "10", tmp_path=tmp_path
    )
    assert code == 1
    rows = [line.split(maxsplit=3) for line in out.splitlines()[-2:]]
    assert [row[:2] for row in rows] == [["trigger", "FAILED"], ["restore", "ok"]]
    assert rows[0][3].startswith("timed out after 20s")
    # The fault was there before trigger started: said so, never claimed as the trigger's own.
    assert rows[0][3].endswith("was present before trigger started, not injected by it")
    assert "the fault was already present before trigger started" in out
    assert "bucket policy carries" not in out
    assert world.probe().status == 200


def test_an_error_during_run_still_restores_and_reports_the_failing_step(world, tmp_path):
    def broken(function: str, event: dict):
        if function == world.stack.function and world.invocations >= 1:
            raise RuntimeError("boom")
        return world.call(function, event)

    drill = world.drill()
    drill.function_caller = broken
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["run", "--json", "--restore-timeout", "20", "--outputs", write_outputs(tmp_path, world.stack.outputs)],
        out=out,
        err=err,
        make=lambda args, outputs, stream: drill,
    )
    result = json.loads(out.getvalue())
    assert code == 1
    assert [(s["step"], s["ok"]) for s in result["steps"]] == [("status", True), ("trigger", False), ("restore", True)]
    assert result["steps"][1]["summary"] == "error: RuntimeError: boom"
    assert result["stopped"] == "error: RuntimeError: boom"
    assert result["cleanup"]["ok"] is True and result["cleanup"]["path"] == "function"


def interrupt_when(drill: steps.Drill, said: str) -> list[str]:
    """Ctrl-C at the drill's next sleep once it has said `said` (its progress lines are returned)."""
    heard: list[str] = []
    sleep = drill.sleep

    def progress(message: str) -> None:
        heard.append(message)

    def sleep_or_stop(seconds: float) -> None:
        if any(said in message for message in heard):
            raise KeyboardInterrupt
        sleep(seconds)

    drill.progress, drill.sleep = progress, sleep_or_stop
    return heard


@pytest.mark.parametrize("advise", [True, False], ids=["deployed stack", "stack that goes with the drill"])
def test_ctrl_c_while_restore_waits_to_rearm_says_the_fault_is_gone_and_exits_130(world, tmp_path, advise):
    """The fault was removed and the API answers 200; only the wait for a safe moment to re-arm is cut short."""
    drill = world.drill()
    drill.advise_commands = advise
    heard = interrupt_when(drill, "not re-arming yet")  # world's alarm stays in ALARM: restore waits
    out, err = io.StringIO(), io.StringIO()
    outputs = write_outputs(tmp_path, world.stack.outputs)
    code = cli.main(["run", "--interval", "5", "--outputs", outputs], out=out, err=err, make=lambda *_: drill)
    text = out.getvalue()
    assert code == 130, text + err.getvalue()
    rows = [line.split(maxsplit=3) for line in text.splitlines()[-5:]]
    assert [row[:2] for row in rows[:4]] == [[step, "ok"] for step in ("status", "trigger", "investigate", "restore")]
    assert rows[3][3].startswith("restored through the fault function: API 200")
    assert "interrupted by Ctrl-C while waiting for a safe moment to re-arm" in rows[3][3]
    assert rows[4] == ["stopped", "early:", "interrupted", "by Ctrl-C"]
    assert "cleanup failed" not in text and "may remain" not in text
    assert err.getvalue().endswith("drill: interrupted; the fault was cleaned up\n")
    assert not armed(world) and world.probe().status == 200
    assert any(message.startswith("not re-arming yet: alarm is ALARM") for message in heard)
    # A command is advised only where the stack outlives the drill.
    assert ("python -m drill arm" in text) is advise


def test_not_re_arming_yet_is_said_once_per_reason_not_once_per_poll(world):
    name = world.stack.outputs["CloudWatchAlarmName"]
    world.invocations = 3
    world.evaluate_alarms()  # the fault is in, the alarm in ALARM
    drill = world.drill()
    heard: list[str] = []
    polls = 0

    def sleep(seconds: float) -> None:
        nonlocal polls
        polls += 1
        if polls == 3:  # CloudWatch moves the alarm back to OK; the drill's own invocations still count
            world.invocations = 0
            world.cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="back to normal")
        world.sleep(seconds)

    drill.sleep, drill.progress = sleep, heard.append
    drill.invoked += [drill.wall()] * 5
    result = steps.restore(drill, timeout=10, interval=1)
    waiting = [message for message in heard if message.startswith("not re-arming yet")]
    assert result.ok and result.data["armed"] is False
    assert polls >= 9 and len(waiting) >= 2  # two reasons (ALARM, then a period not yet evaluated) over many polls
    assert len(waiting) == len(set(waiting)), waiting
    assert waiting[0] == "not re-arming yet: alarm is ALARM, not OK"


def test_the_rearm_rule_reads_periods_as_long_as_the_drill_says_they_last(world):
    """`Drill.period_length` is the clock seam: a stand-in whose periods last 2 s instead of 60 s supplies it."""
    alarm = world.cloudwatch.describe_alarms(AlarmNames=[world.stack.outputs["CloudWatchAlarmName"]])
    alarm = alarm["MetricAlarms"][0]  # Period 60, 1 evaluation period: the current period and the one before
    drill = world.drill()
    now = datetime(2026, 11, 25, 10, 0, 31, tzinfo=UTC)
    drill.wall = lambda: now
    drill.invoked = [datetime(2026, 11, 25, 10, 0, 21, tzinfo=UTC)] * 3  # 10 s ago: threshold-many
    assert steps.pending_periods(drill, alarm) == [(datetime(2026, 11, 25, 10, 0, tzinfo=UTC), 3.0)]
    drill.period_length = lambda seconds: seconds / 30  # 2 s periods: 10 s ago is four periods back
    assert steps.pending_periods(drill, alarm) == []
    drill.invoked = [datetime(2026, 11, 25, 10, 0, 29, 500000, tzinfo=UTC)] * 3  # in the period before
    assert steps.pending_periods(drill, alarm) == [(datetime(2026, 11, 25, 10, 0, 28, tzinfo=UTC), 3.0)]


def test_the_rehearsal_renders_the_run_result_and_reads_the_failed_step_from_it(world):
    inject_fault_like_the_fault_function(world.stack)  # status fails first: the run stops there
    outcome, printed = run_drill(world.drill(), as_json=False)
    assert [(s.name, s.ok) for s in outcome.steps] == [("status", False)]
    assert failed_step(outcome) == "status"
    assert printed == run_text(outcome) + "\n"
    outcome, printed = run_drill(world.drill(), as_json=True)
    assert json.loads(printed) == outcome.to_json()
    assert failed_step(None) is None
    results = (("status", True), ("trigger", False), ("restore", True))
    ran = [steps.StepResult(name, ok, 1.0, "") for name, ok in results]
    assert failed_step(steps.RunResult(ran)) == "trigger"  # the first that failed, not the last that ran
    assert failed_step(steps.RunResult(ran[:1])) is None
    assert failed_step(steps.RunResult(ran[:1], stopped=KeyboardInterrupt())) == "status"  # ok, but cut short


def outputs_only(world: World, names: tuple[str, ...]) -> StackOutputs:
    return StackOutputs({k: v for k, v in world.stack.outputs.items() if k in names}, "test")


# `inject` and `gameday` need what their scenario needs: the catalogue checks that itself and answers exit 2
# with the reason (tests/test_gameday_cli.py).
@pytest.mark.parametrize("command", sorted(set(cli.NEEDED) - {"inject", "gameday"}))
def test_every_output_a_command_reads_is_in_its_needed_list(world, tmp_path, command):
    """With exactly the outputs NEEDED names (and the fault chain where it is needed) each command works."""
    chain = ("BucketPolicyLambdaName", "CloudWatchAlarmName") if command in cli.NEEDS_FAULT_CHAIN else ()
    given = outputs_only(world, (*cli.NEEDED[command], *chain))
    path = write_outputs(tmp_path, dict(given.values))
    fast = {"run": ["--interval", "5", "--restore-timeout", "10"], "trigger": ["--interval", "5"]}
    fast |= {"restore": ["--interval", "5", "--timeout", "10"]}
    fast |= {"traffic": ["--rps", "2", "--duration", "1"]}
    argv = [command, *fast.get(command, []), "--outputs", path]
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err, make=lambda *_: world.drill(given))
    assert "missing from" not in err.getvalue()  # StackOutputs.require's words
    assert code == 0, out.getvalue() + err.getvalue()


def test_status_with_no_outputs_names_every_output_it_needs_at_once(tmp_path):
    code, out, err = run_main_(["status", "--outputs", write_outputs(tmp_path, {})])
    assert code == 2 and out == "" and err.count("\n") == 1
    for name in ("S3BucketName", "ApiEndpoint", "LambdaFunctionName"):
        assert repr(name) in err


def run_main_(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(argv, out=out, err=err), out.getvalue(), err.getvalue()
