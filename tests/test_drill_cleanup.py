"""`python -m drill` never leaves the fault behind: restore, arming, every exit path, region (end to end).

Each case runs the CLI as a subprocess against one moto server (its own stack prefix per case) and a
stand-in for API Gateway on 127.0.0.1 that answers 500 while the bucket policy denies the image role
GetObject or ListBucket, 200 otherwise. moto cannot run Lambda code: invoking the fault function
answers a FunctionError there, so restore must take its direct path; the image function's invocations
fail likewise, so a trigger never gets its invocations counted and runs into its timeout. Invocations
datapoints put into moto stand for invocations CloudWatch has yet to evaluate.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from drill_fixtures import (
    REGION,
    MotoStack,
    build_stack,
    cli_env,
    inject_fault_like_the_fault_function,
    moto_server,  # noqa: F401  (fixture)
    run_drill,
)

from drill.fault_policy import normalised
from drill.parser import MAX_SECONDS
from drill.region import Region, resolve_region
from drill.stack import StackOutputs

pytestmark = pytest.mark.e2e  # drill subprocesses against a moto server: the `.ci/run` e2e step

FAULT_ACTIONS = {"s3:GetObject", "s3:ListBucket"}


def denies_the_role(policy: dict, role_arn: str) -> bool:
    """What real S3 would do for the image role: a Deny naming it on List/GetObject breaks the API."""
    for statement in policy.get("Statement", []):
        names_role = normalised(statement.get("Principal")) == normalised({"AWS": role_arn})
        actions = statement.get("Action")
        actions = set(actions) if isinstance(actions, list) else {actions}
        if statement.get("Effect") == "Deny" and names_role and actions & FAULT_ACTIONS:
            return True
    return False


@pytest.fixture(scope="module")
def api(moto_server):  # noqa: F811
    """GET /<prefix>/prod/random -> 500 while that stack's bucket policy denies its role, else 200."""
    s3 = boto3.client("s3", endpoint_url=moto_server, region_name=REGION)
    iam = boto3.client("iam", endpoint_url=moto_server, region_name=REGION)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            stack = STACKS[self.path.strip("/").split("/")[0]]
            role = iam.get_role(RoleName=stack.role_name)["Role"]["Arn"]
            try:
                policy = json.loads(s3.get_bucket_policy(Bucket=stack.bucket)["Policy"])
            except s3.exceptions.ClientError:
                policy = {}
            status = 500 if denies_the_role(policy, role) else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def policy_of(stack: MotoStack) -> dict:
    return json.loads(stack.client("s3").get_bucket_policy(Bucket=stack.bucket)["Policy"])


def armed(stack: MotoStack) -> bool:
    name = stack.outputs["CloudWatchAlarmName"]
    return stack.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"]


def pending_invocations(stack: MotoStack, count: float) -> None:
    """Invocations of the image function in the current period, not yet evaluated by the alarm."""
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": stack.function}],
                "Value": count,
                "Unit": "Count",
            }
        ],
    )


class Watched:
    """A drill subprocess whose stderr is read as it runs; `when` acts once on the first line holding `text`.

    The action is given before the reader starts, so no line can pass unseen; an action that fails is kept
    and raised by `finish`, never lost with the reader thread (a lost action looked like a lost Ctrl-C).
    """

    def __init__(self, process: subprocess.Popen, when: tuple[str, Callable[[Watched], None]] | None = None) -> None:
        self.process = process
        self.stderr: list[str] = []
        self.when, self.acted, self.failure = when, False, None
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)
            if self.when and not self.acted and self.when[0] in line:
                self.acted = True
                try:
                    self.when[1](self)
                except Exception as err:  # noqa: BLE001 (raised in the test's thread by finish)
                    self.failure = err
                    self.process.kill()  # its signal may never come: the failure is the answer, not a timeout

    def finish(self, bound: float = 300) -> tuple[int, str, str]:
        """Exit code, stdout, stderr. `bound` only ends a drill that would never stop by itself (a lost
        signal): the cases wait for what the drill says, not for time."""
        try:
            self.process.wait(timeout=bound)  # the outputs are small: the pipes cannot fill up meanwhile
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the drill did not stop; stderr: {''.join(self.stderr)[-2000:]}") from None
        stdout = self.process.stdout.read()
        self.reader.join()
        if self.failure is not None:
            raise self.failure
        if self.when and not self.acted:
            raise AssertionError(f"the drill never said {self.when[0]!r}; stderr: {''.join(self.stderr)[-2000:]}")
        return self.process.returncode, stdout, "".join(self.stderr)


FAST = ("--interval", "0.2")
CASES = ("pending", "rearm", "timeout", "sigint", "sigterm")
TRIGGER_STARTED = "not counted"  # trigger's line for an invocation moto could not run


@pytest.fixture(scope="module")
def runs(moto_server, api, tmp_path_factory):  # noqa: F811
    """Every case's subprocess, started together: case -> (stack, exit code, stdout, stderr)."""
    folder = tmp_path_factory.mktemp("drill-cleanup")
    env = cli_env(moto_server)
    started: dict[str, Watched] = {}
    stacks = {case: build_stack(moto_server, f"aiops-demo-{case}") for case in CASES}
    STACKS.update({stack.prefix: stack for stack in stacks.values()})

    def start(case: str, *args: str, prepare=None, environment=None, when=None) -> Watched:
        stack = stacks[case]
        stack.outputs["ApiEndpoint"] = f"{api}/{stack.prefix}/prod/random"
        if prepare:
            prepare(stack)
        path = OUTPUTS[case] = folder / f"{case}.json"
        path.write_text(json.dumps(stack.outputs))
        started[case] = Watched(run_drill(*args, "--outputs", str(path), env=environment or env), when)
        return started[case]

    # restore while invocations are pending. The fault's ListBucket statement is written with lists and
    # reordered keys (still the fault); a statement with the fault's Sid prefix but other content is not.
    def pending(stack: MotoStack) -> None:
        keep_prefixed = {
            "Sid": "AiopsFaultInjectionDenyPutObject",
            "Effect": "Deny",
            "Principal": {"AWS": stack.role_arn},
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{stack.bucket}/*",
        }
        policy = policy_of(stack)
        policy["Statement"].append(keep_prefixed)
        KEPT[stack.prefix] = json.loads(json.dumps(policy["Statement"]))
        stack.client("s3").put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(policy))
        inject_fault_like_the_fault_function(stack)
        written = policy_of(stack)
        written["Statement"][-2] = {
            "Resource": [f"arn:aws:s3:::{stack.bucket}"],
            "Action": ["s3:ListBucket", "s3:ListBucket"],
            "Principal": {"AWS": [stack.role_arn]},
            "Effect": "Deny",
            "Sid": "AiopsFaultInjectionDenyListBucket",
        }
        stack.client("s3").put_bucket_policy(Bucket=stack.bucket, Policy=json.dumps(written))
        pending_invocations(stack, 5)

    # AWS_REGION alone (no AWS_DEFAULT_REGION), as many shells set it: boto3 by itself would find no region.
    only_aws_region = {k: v for k, v in env.items() if k != "AWS_DEFAULT_REGION"}
    start("pending", "restore", "--json", "--timeout", "1", *FAST, prepare=pending, environment=only_aws_region)

    # restore with nothing pending: the alarm is armed again.
    def tls_only_then_fault(stack: MotoStack) -> None:
        KEPT[stack.prefix] = policy_of(stack)["Statement"]
        inject_fault_like_the_fault_function(stack)

    start("rearm", "restore", "--timeout", "5", *FAST, prepare=tls_only_then_fault, environment=only_aws_region)

    # run whose trigger times out; the fault turns up meanwhile (a late alarm action).
    run_args = ("run", "--restore-timeout", "0.5", *FAST)
    start(
        "timeout",
        *run_args,
        "--trigger-timeout",
        "1",
        when=(TRIGGER_STARTED, lambda watched: inject_fault_like_the_fault_function(stacks["timeout"])),
    )

    # Ctrl-C and SIGTERM during trigger, once the fault is in. The trigger cannot succeed in moto, and its
    # deadline is out of reach: only the signal ends it, however long the machine takes to send it.
    for case, number in (("sigint", signal.SIGINT), ("sigterm", signal.SIGTERM)):

        def interrupt(watched: Watched, case: str = case, number: int = number) -> None:
            inject_fault_like_the_fault_function(stacks[case])
            watched.process.send_signal(number)

        start(case, *run_args, "--trigger-timeout", str(MAX_SECONDS), when=(TRIGGER_STARTED, interrupt))

    return {case: (stacks[case], *watched.finish()) for case, watched in started.items()}


STACKS: dict[str, MotoStack] = {}  # prefix -> its stack, for the API stand-in
OUTPUTS: dict[str, Path] = {}  # case -> its outputs file
KEPT: dict[str, list] = {}  # prefix -> the statements restore must keep, as written


def test_restore_with_pending_invocations_leaves_the_alarm_disarmed_and_keeps_every_other_statement(runs):
    stack, code, out, err = runs["pending"]
    assert code == 0, err
    result = json.loads(out)
    assert result["ok"] is True and result["path"] == "direct" and result["fault_sids"] == []
    assert result["armed"] is False and not armed(stack)
    assert "left" in result["summary"] and "disarmed" in result["summary"]
    name = stack.outputs["CloudWatchAlarmName"]
    assert result["arm_commands"][0] == f"python -m drill arm --outputs {OUTPUTS['pending']}"
    assert result["arm_commands"][1] == f"aws cloudwatch enable-alarm-actions --alarm-names {name} --region {REGION}"
    events = [e["event"] for e in result["timeline"]]
    assert events[0].startswith(f"disarmed {name}")  # before the fault is touched
    assert "not yet evaluated: 5 invocations in the period from" in events[-2] and "(threshold 3)" in events[-2]
    # The TLS-only statement and the prefixed look-alike are kept as they were; the fault is gone.
    assert policy_of(stack)["Statement"] == KEPT[stack.prefix]


def test_restore_with_nothing_pending_removes_the_fault_directly_and_rearms(runs):
    stack, code, out, err = runs["rearm"]
    assert code == 0, err
    assert armed(stack)
    assert "FunctionError" in out or "failed (Handled)" in out  # the fault function could not run in moto
    assert "removed AiopsFaultInjectionDenyListBucket, AiopsFaultInjectionDenyGetObject" in out
    assert f"re-armed {stack.outputs['CloudWatchAlarmName']}" in out
    assert out.strip().splitlines()[-1].startswith("restored directly: API 200")
    assert policy_of(stack)["Statement"] == KEPT[stack.prefix]


def table(out: str) -> list[list[str]]:
    lines = out.splitlines()
    start = max(i for i, line in enumerate(lines) if line.split()[:3] == ["step", "result", "seconds"])
    return [line.split(maxsplit=3) for line in lines[start + 1 :]]


def test_run_whose_trigger_times_out_prints_the_table_exits_1_and_leaves_no_fault(runs):
    stack, code, out, err = runs["timeout"]
    assert code == 1, err
    rows = table(out)
    assert [row[:2] for row in rows] == [["status", "ok"], ["trigger", "FAILED"], ["restore", "ok"], ["status", "ok"]]
    assert rows[1][3].startswith("timed out after 1s: only 0 of 3 invocations")  # failed calls are not counted
    assert rows[2][3].startswith("restored directly: API 200")
    assert not denies_the_role(policy_of(stack), stack.role_arn)


@pytest.mark.parametrize(("case", "cause"), [("sigint", "interrupted by Ctrl-C"), ("sigterm", "terminated by SIGTERM")])
def test_an_interrupted_run_restores_prints_the_table_and_exits_130(runs, case, cause):
    stack, code, out, err = runs[case]
    assert code == 130, err
    rows = table(out)
    assert [row[:2] for row in rows[:2]] == [["status", "ok"], ["trigger", "FAILED"]]
    assert rows[1][3] == cause
    assert rows[2][:2] == ["restore", "ok"] and rows[2][3].startswith("restored directly: API 200")
    assert out.strip().splitlines()[-1] == f"stopped early: {cause}"
    assert not denies_the_role(policy_of(stack), stack.role_arn)
    assert "cleaned up" in err


def test_aws_region_alone_is_used_and_a_different_endpoint_region_is_named(runs):
    # The restores above ran with AWS_REGION alone and found their stacks in it.
    for case in ("pending", "rearm"):
        assert runs[case][1] == 0, runs[case][3]
    env = {"AWS_REGION": "us-west-2"}
    elsewhere = StackOutputs({"ApiEndpoint": "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod/r"}, "t")
    region, note = resolve_region(None, None, elsewhere, env)
    assert region == Region("us-west-2", "AWS_REGION")
    assert note.startswith("the API endpoint is in eu-west-1 but the drill uses us-west-2 (from AWS_REGION)")
    assert resolve_region("ca-central-1", None, elsewhere, env)[0] == Region("ca-central-1", "--region")
    assert resolve_region(None, None, elsewhere, {}) == (
        Region("eu-west-1", "the API endpoint"),
        None,
    )
    both = {**env, "AWS_DEFAULT_REGION": "eu-north-1"}
    assert resolve_region(None, None, elsewhere, both)[0].name == "us-west-2"  # AWS_REGION wins
