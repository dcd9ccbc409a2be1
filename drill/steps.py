"""The drill's steps: status, trigger, investigate, restore, and run (all of them in order).

Steps take the API probe and the function caller as arguments (and a clock, a sleep and a progress
sink), so tests can run the whole drill against moto with the real handlers called in process. In
real use the probe is an HTTPS GET of the API endpoint and the caller is `lambda:Invoke`.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import Clients, error_code
from drill.errors import DrillError, UsageError
from drill.investigator import investigate, resolve_target, to_markdown
from drill.investigator.collectors.images import count_images
from drill.investigator.model import Report
from drill.investigator.policy import INJECTED_SID_PREFIX, injected_sids, load_document, statements

FAULT_KIND = "bucket_policy_deny"  # what the fault injector does, so what `run` expects to find


@dataclass(frozen=True)
class Probe:
    """One request to the API."""

    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def failing(self) -> bool:
        return self.status is not None and self.status >= 500

    def describe(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{answer} in {self.latency_ms:.0f} ms"


ApiProbe = Callable[[], Probe]
FunctionCaller = Callable[[str, dict[str, Any]], Any]  # (function name, event) -> the function's result


@dataclass
class Drill:
    """Everything a step needs; the callables are the seams tests replace."""

    outputs: stack.StackOutputs
    clients: Clients
    account: str
    region: str
    api_probe: ApiProbe
    function_caller: FunctionCaller
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = field(default=lambda _message: None)


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    summary: str  # one line
    lines: list[str] = field(default_factory=list)  # details for a person (timeline, report)
    data: dict[str, Any] = field(default_factory=dict)  # the same for machines

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "summary": self.summary,
            **self.data,
        }


class Timeline:
    """Elapsed-time stamped events of one step, echoed to the progress sink as they happen."""

    def __init__(self, drill: Drill) -> None:
        self.drill = drill
        self.start = drill.clock()
        self.events: list[tuple[float, str]] = []

    def elapsed(self) -> float:
        return self.drill.clock() - self.start

    def mark(self, event: str) -> None:
        self.events.append((self.elapsed(), event))
        self.drill.progress(f"+{self.elapsed():6.1f}s {event}")

    def lines(self) -> list[str]:
        return [f"+{seconds:6.1f}s  {event}" for seconds, event in self.events]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"seconds": round(seconds, 2), "event": event} for seconds, event in self.events]


# ------------------------------------------------------------------------------------------ helpers
def api_gateway_event() -> dict[str, Any]:
    """What API Gateway's Lambda proxy integration sends for GET /random."""
    return {
        "resource": "/random",
        "path": "/random",
        "httpMethod": "GET",
        "headers": {"Accept": "*/*", "User-Agent": "aiops-drill"},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"resourcePath": "/random", "httpMethod": "GET", "stage": "prod", "requestId": "aiops-drill"},
        "body": None,
        "isBase64Encoded": False,
    }


def alarm_states(drill: Drill, names: list[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    found = drill.clients.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def bucket_policy(drill: Drill) -> dict[str, Any] | None:
    try:
        return load_document(drill.clients.s3.get_bucket_policy(Bucket=drill.outputs.require(stack.BUCKET))["Policy"])
    except ClientError as err:
        if error_code(err) == "NoSuchBucketPolicy":
            return None
        raise


def fault_sids(drill: Drill) -> list[str]:
    policy = bucket_policy(drill)
    return injected_sids(policy) if policy else []


def remove_injected_statements(drill: Drill) -> list[str]:
    """Restore without the fault function: drop AiopsFaultInjection* statements, keep the rest."""
    policy = bucket_policy(drill)
    if not policy:
        return []
    removed = injected_sids(policy)
    if not removed:
        return []
    kept = [s for s in statements(policy) if not str(s.get("Sid", "")).startswith(INJECTED_SID_PREFIX)]
    bucket = drill.outputs.require(stack.BUCKET)
    if kept:
        drill.clients.s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({**policy, "Statement": kept}))
    else:
        drill.clients.s3.delete_bucket_policy(Bucket=bucket)
    return removed


def invocations_needed(alarm: dict[str, Any]) -> int:
    """Invocations that make the Sum reach the alarm's threshold within one period."""
    threshold = float(alarm.get("Threshold", 1))
    if alarm.get("ComparisonOperator") == "GreaterThanThreshold":
        return max(1, math.floor(threshold) + 1)
    return max(1, math.ceil(threshold))


# ------------------------------------------------------------------------------------------ steps
def status(drill: Drill) -> StepResult:
    """API answer and latency, alarm states, injected fault present or not, image count."""
    start = drill.clock()
    probe = drill.api_probe()
    names = [drill.outputs.get(k) for k in (stack.INVOCATIONS_ALARM, stack.API_5XX_ALARM, stack.ERRORS_ALARM)]
    names = [n for n in names if n]
    found = alarm_states(drill, names)
    alarms = {n: found[n]["StateValue"] if n in found else "MISSING" for n in names}
    sids = fault_sids(drill)
    try:
        images, _, _ = count_images(drill.clients.s3, drill.outputs.require(stack.BUCKET))
    except ClientError as err:
        images = None
        drill.progress(f"cannot count images: {error_code(err)}")
    ok = probe.ok and not sids
    summary = f"API {probe.describe()}; fault {'present' if sids else 'absent'}; {images} images"
    lines = [
        f"API        {drill.outputs.get(stack.API_ENDPOINT)} -> {probe.describe()}",
        *[f"alarm      {name}: {state}" for name, state in alarms.items()],
        f"fault      {'present: ' + ', '.join(sids) if sids else 'absent'}",
        f"images     {images if images is not None else 'unknown'}",
    ]
    data = {
        "api": {
            "url": drill.outputs.get(stack.API_ENDPOINT),
            "status": probe.status,
            "latency_ms": round(probe.latency_ms, 1),
            "error": probe.error,
        },
        "alarms": alarms,
        "fault_present": bool(sids),
        "fault_sids": sids,
        "image_count": images,
    }
    return StepResult("status", ok, drill.clock() - start, summary, lines, data)


def require_fault_chain(outputs: stack.StackOutputs) -> None:
    if not outputs.fault_chain:
        raise UsageError(
            "this stack was deployed without the fault chain (faultInjectionEnabled=false): outputs "
            f"{stack.FAULT_FUNCTION} and {stack.INVOCATIONS_ALARM} are absent, so there is nothing to trigger"
        )


def trigger(drill: Drill, *, timeout: float = 300, interval: float = 10) -> StepResult:
    """Invoke the image function up to the invocations alarm's threshold, then wait for ALARM and 5XX."""
    require_fault_chain(drill.outputs)
    alarm_name = drill.outputs.require(stack.INVOCATIONS_ALARM)
    function = drill.outputs.require(stack.IMAGE_FUNCTION)
    timeline = Timeline(drill)
    deadline = timeline.start + timeout

    def alarm() -> dict[str, Any]:
        found = alarm_states(drill, [alarm_name])
        if alarm_name not in found:
            raise DrillError(f"alarm {alarm_name} (output {stack.INVOCATIONS_ALARM}) does not exist")
        return found[alarm_name]

    current = alarm()
    # The alarm action runs only on a change to ALARM: a drill right after another must wait for OK.
    while current["StateValue"] == "ALARM":
        if drill.clock() >= deadline:
            return StepResult(
                "trigger",
                False,
                timeline.elapsed(),
                f"alarm {alarm_name} stayed in ALARM from the last drill; wait a period and retry",
                timeline.lines(),
            )
        drill.progress(f"waiting for {alarm_name} to leave ALARM (its action only runs on a change)")
        drill.sleep(interval)
        current = alarm()

    needed = invocations_needed(current)
    for number in range(1, needed + 1):
        drill.function_caller(function, api_gateway_event())
        timeline.mark(f"invoked {function} ({number}/{needed}, alarm threshold {current.get('Threshold'):g})")

    alarmed = failing = False
    probe = drill.api_probe()
    while True:
        state = alarm()["StateValue"]
        if state == "ALARM" and not alarmed:
            alarmed = True
            timeline.mark(f"alarm {alarm_name} is ALARM")
        if probe.failing and not failing:
            failing = True
            timeline.mark(f"API answers {probe.describe()}")
        if (alarmed and failing) or drill.clock() >= deadline:
            break
        drill.progress(f"waiting {timeline.elapsed():.0f}/{timeout:.0f}s: alarm {state}, API {probe.describe()}")
        drill.sleep(interval)
        probe = drill.api_probe()
    ok = alarmed and failing
    if ok:
        summary = f"fault triggered: alarm ALARM and API {probe.status} after {timeline.elapsed():.1f}s"
    else:
        summary = (
            f"timed out after {timeout:.0f}s: alarm {'ALARM' if alarmed else state}, API {probe.describe()} "
            "(CloudWatch evaluates the alarm once per period, often a minute or more after the calls)"
        )
    sids = fault_sids(drill)
    if sids:
        timeline.mark(f"bucket policy carries {', '.join(sids)}")
    return StepResult(
        "trigger",
        ok,
        timeline.elapsed(),
        summary,
        timeline.lines(),
        {
            "alarm": alarm_name,
            "invocations": needed,
            "alarm_reached": alarmed,
            "api_failed": failing,
            "fault_sids": sids,
            "timeline": timeline.to_json(),
        },
    )


def investigate_step(drill: Drill, *, since_minutes: float, expect: str | None = None) -> tuple[StepResult, Report]:
    """Run the investigator; with `expect`, the step succeeds only if that is the root cause's kind."""
    start = drill.clock()
    target = resolve_target(drill.outputs.values, drill.clients, account=drill.account, region=drill.region)
    report = investigate(drill.clients, target, since_minutes=since_minutes, now=drill.wall())
    root = report.root_cause
    summary = f"{report.status}: {root.kind} on {root.resource}" if root else "healthy: no root cause"
    ok = expect is None or (root is not None and root.kind == expect)
    data = report.to_json()
    return StepResult("investigate", ok, drill.clock() - start, summary, to_markdown(report).splitlines(), data), report


def restore(drill: Drill, *, timeout: float = 120, interval: float = 5) -> StepResult:
    """Remove the injected fault (through the fault function when deployed), then wait for HTTP 200."""
    timeline = Timeline(drill)
    fault_function = drill.outputs.get(stack.FAULT_FUNCTION)
    if fault_function:
        answer = drill.function_caller(fault_function, {"action": "restore"})
        if not isinstance(answer, dict) or answer.get("action") != "restore":
            raise DrillError(f"fault function {fault_function} answered {answer!r} to a restore")
        timeline.mark(
            f"{fault_function} restore: changed={answer.get('changed')}, removed "
            f"{', '.join(answer.get('sids') or []) or 'nothing'}"
        )
    else:
        removed = remove_injected_statements(drill)
        timeline.mark(
            f"removed {', '.join(removed) or 'nothing'} from the bucket policy directly "
            f"(no {stack.FAULT_FUNCTION} output)"
        )
    deadline = timeline.start + timeout
    probe = drill.api_probe()
    while not probe.ok and drill.clock() < deadline:
        drill.progress(f"waiting {timeline.elapsed():.0f}/{timeout:.0f}s for HTTP 200: API {probe.describe()}")
        drill.sleep(interval)
        probe = drill.api_probe()
    timeline.mark(f"API answers {probe.describe()}")
    left = fault_sids(drill)
    ok = probe.ok and not left
    summary = (
        f"restored: API {probe.status} after {timeline.elapsed():.1f}s"
        if ok
        else f"not restored after {timeline.elapsed():.0f}s: API {probe.describe()}"
        + (f", still injected: {', '.join(left)}" if left else "")
    )
    return StepResult(
        "restore",
        ok,
        timeline.elapsed(),
        summary,
        timeline.lines(),
        {"api_status": probe.status, "fault_sids": left, "timeline": timeline.to_json()},
    )


@dataclass
class RunResult:
    steps: list[StepResult]

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps) and len(self.steps) == 5

    def table(self) -> list[str]:
        rows = [f"{'step':<12} {'result':<7} {'seconds':>8}  summary"]
        rows += [f"{s.name:<12} {'ok' if s.ok else 'FAILED':<7} {s.seconds:>8.1f}  {s.summary}" for s in self.steps]
        return rows


def run(
    drill: Drill,
    *,
    since_minutes: float = 30,
    trigger_timeout: float = 300,
    restore_timeout: float = 120,
    interval: float = 10,
) -> RunResult:
    """status -> trigger -> investigate -> restore -> status; restore runs whenever trigger did."""
    require_fault_chain(drill.outputs)
    steps = [status(drill)]
    if not steps[0].ok:
        steps[0].summary += " (the drill needs a healthy stack to start from)"
        return RunResult(steps)
    try:
        steps.append(trigger(drill, timeout=trigger_timeout, interval=interval))
        if steps[-1].ok:
            steps.append(investigate_step(drill, since_minutes=since_minutes, expect=FAULT_KIND)[0])
    finally:
        # Always clean up after a trigger, even when a later step failed.
        steps.append(restore(drill, timeout=restore_timeout, interval=interval))
    steps.append(status(drill))
    return RunResult(steps)


# ------------------------------------------------------------------------------------------ real seams
def http_probe(url: str, *, timeout: float = 10) -> ApiProbe:
    """GET the API endpoint; HTTP errors are answers, network errors are `status=None`."""
    if not url.startswith(("https://", "http://")):
        raise UsageError(f"stack output {stack.API_ENDPOINT} is not an http(s) URL: {url!r}")

    def probe() -> Probe:
        start = time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "aiops-drill"}, method="GET")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (scheme checked above)
                response.read()
                return Probe(response.status, (time.monotonic() - start) * 1000)
        except urllib.error.HTTPError as err:
            return Probe(err.code, (time.monotonic() - start) * 1000)
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            return Probe(None, (time.monotonic() - start) * 1000, str(reason))

    return probe


def lambda_caller(clients: Clients) -> FunctionCaller:
    """Synchronous `lambda:Invoke`; returns the function's JSON result (or its error payload)."""

    def call(function_name: str, event: dict[str, Any]) -> Any:
        response = clients.lambda_.invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
        body = response["Payload"].read()
        try:
            return json.loads(body) if body else None
        except json.JSONDecodeError:
            return body.decode(errors="replace")

    return call
