"""fault_injector: a reversible fault for the incident drill — deny the image function's role its bucket.

Events it answers:
- a CloudWatch alarm action (`source == "aws.cloudwatch"`) in state ALARM from its own alarm
  (`alarmArn` == ALARM_ARN) whose state changed at most MAX_EVENT_AGE_SECONDS ago (300 s): merge the
  two Deny statements of fault_policy.py (Principal = TARGET_ROLE_ARN) into the bucket policy, keeping
  every other statement and the policy's Version/Id as they were;
- `{"action": "restore"}`: remove exactly those two statements (compared normalised), never another one
  (a foreign statement with the `AiopsFaultInjection` Sid prefix is kept and reported), and delete the
  policy when nothing else is left;
- `{"action": "status"}`: report the fault statements present and any foreign prefix-Sid statements.
Both changes are idempotent: a second run finds nothing to do and writes nothing. OK / INSUFFICIENT_DATA
alarm events, events from another alarm or account, stale or future-dated ones and malformed events
change nothing and answer `action: "ignored"` with a reason. Without ALARM_ARN an alarm event cannot be
verified: it is answered MissingConfiguration and changes nothing (restore and status still work); with
a MAX_EVENT_AGE_SECONDS that is not a positive number, InvalidConfiguration, likewise.

No lost writes: an alarm action and a restore may run at once, and S3 has no conditional
PutBucketPolicy. No reserved concurrency either (it fails the deploy in accounts whose concurrency quota
is 10). So after each write the policy is read back after a short jittered pause, and the change is
re-applied to what was read until the read-back needs no change (at most MAX_WRITES writes).

Response: {"action", "changed", "faultPresent", "sids", "attempts"?, "foreignSids"?, "reason"?, "error"?,
"code"?}. `sids` lists the Sids this call added (inject) or removed (restore), and for status the fault
Sids present; `attempts` is the number of writes made; `foreignSids` the prefix-Sid statements that are not
the fault's. AWS errors (e.g. AccessDenied on PutBucketPolicy) are logged with their code and answered
with "error"/"code" instead of raising: the alarm invokes this function asynchronously, and Lambda would
retry a raised error to the same end. botocore already retries throttling and 5XX itself.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

# Lambda runs this file with its folder on sys.path, so the sibling modules import by plain name (the tests
# and the rehearsal put the folder on sys.path the same way). Their names are unique across functions.
from fault_events import MAX_AGE_VARIABLE, alarm_rejection, max_event_age, requested_action
from fault_policy import (
    POLICY_VERSION,
    Policy,
    Statement,
    fault_sids,
    fault_statements,
    foreign_sids,
    statements_of,
    with_fault,
    without_fault,
)
from fault_results import Result, Settled, answer, result

logger = logging.getLogger()
logger.setLevel("INFO")

BUCKET_NAME = os.environ.get("BUCKET_NAME", "")
TARGET_ROLE_ARN = os.environ.get("TARGET_ROLE_ARN", "")
ALARM_ARN = os.environ.get("ALARM_ARN", "")
# Set by the component to its FunctionEventInvokeConfig's maximum event age; None (with the reason) if malformed.
MAX_EVENT_AGE_SECONDS, MAX_EVENT_AGE_PROBLEM = max_event_age(os.environ.get(MAX_AGE_VARIABLE))
MAX_WRITES = 4

# Module-level client, reused by warm invocations.
s3 = boto3.client("s3")


def clock() -> datetime:
    """Now, timezone-aware (a seam: tests replace it)."""
    return datetime.now(UTC)


def sleep(seconds: float) -> None:
    """A seam around time.sleep, so tests need not wait."""
    time.sleep(seconds)


def settle_delay() -> float:
    """The pause before a read-back: long enough for a racing write to land, jittered so two racers drift
    apart instead of colliding in step."""
    return random.uniform(0.05, 0.25)  # noqa: S311 (timing jitter, not a secret)


class AwsCallFailed(Exception):
    """An S3 call failed; carries what the log line and the response need."""

    def __init__(self, operation: str, code: str, fault_present: bool = False) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code
        self.fault_present = fault_present
        self.attempts = 0  # writes that succeeded before the failure


class SidConflict(Exception):
    """A fault statement cannot be added: a foreign statement holds its Sid."""

    def __init__(self, sids: list[str], policy: Policy) -> None:
        super().__init__(f"Sid taken: {sids}")
        self.sids = sids
        self.policy = policy
        self.attempts = 0


# ------------------------------------------------------------------------------------------- S3
def read_policy(bucket: str) -> Policy:
    """The bucket's policy, or an empty one when the bucket has none."""
    try:
        text = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code == "NoSuchBucketPolicy":
            return {"Version": POLICY_VERSION, "Statement": []}
        raise AwsCallFailed("GetBucketPolicy", code) from err
    except BotoCoreError as err:
        raise AwsCallFailed("GetBucketPolicy", type(err).__name__) from err
    return json.loads(text)


def write_policy(bucket: str, policy: Policy, *, fault_present: bool) -> None:
    """Put the policy, or delete it when no statement is left (S3 rejects a policy without statements)."""
    operation = "PutBucketPolicy" if statements_of(policy) else "DeleteBucketPolicy"
    try:
        if operation == "PutBucketPolicy":
            # Compact, key order kept: the other statements come back as the same JSON values.
            s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy, separators=(",", ":")))
        else:
            s3.delete_bucket_policy(Bucket=bucket)
    except ClientError as err:
        raise AwsCallFailed(operation, err.response["Error"]["Code"], fault_present) from err
    except BotoCoreError as err:
        raise AwsCallFailed(operation, type(err).__name__, fault_present) from err


def converge(bucket: str, ours: list[Statement], change: Callable[[Policy], tuple[Policy, list[str]]]) -> Settled:
    """Apply `change` (policy -> (new policy, Sids changed); no Sids = already as intended) until a read-back
    needs no change. A concurrent writer that read the policy before our write may put its version over
    ours; the read-back sees that and the change is applied again to what is there now, so neither
    writer's statements are lost."""
    policy, sids, writes = read_policy(bucket), [], 0
    try:
        while True:
            after, changed = change(policy)
            if not changed:
                return Settled(policy, sids, writes, True)
            if writes == MAX_WRITES:
                return Settled(policy, sids, writes, False)
            write_policy(bucket, after, fault_present=bool(fault_sids(policy, ours)))
            writes += 1
            sids += [sid for sid in changed if sid not in sids]
            sleep(settle_delay())
            policy = read_policy(bucket)
    except (AwsCallFailed, SidConflict) as err:
        err.attempts = writes
        raise


# ------------------------------------------------------------------------------------------- actions
def inject(bucket: str, role_arn: str, event: dict) -> Result:
    ours = fault_statements(bucket, role_arn)

    def add(policy: Policy) -> tuple[Policy, list[str]]:
        after, added, conflicts = with_fault(policy, ours)
        if conflicts:
            raise SidConflict(conflicts, policy)
        return after, added

    try:
        outcome = converge(bucket, ours, add)
    except SidConflict as err:
        foreign = foreign_sids(err.policy, ours)
        logger.error("fault not injected: its Sid is taken", extra={"bucket": bucket, "conflicting_sids": err.sids})
        return result(
            "inject",
            changed=err.attempts > 0,
            fault_present=bool(fault_sids(err.policy, ours)),
            sids=[],
            attempts=err.attempts,
            foreignSids=foreign,
            error=f"statements {err.sids} already exist with other content; remove them by hand",
            code="FaultSidConflict",
        )
    alarm = event.get("alarmData")
    extra = {
        "target_role_arn": role_arn,
        "alarm_name": alarm.get("alarmName") if isinstance(alarm, dict) else None,
        "alarm_arn": event.get("alarmArn"),
    }
    return answer("inject", bucket, ours, outcome, extra)


def restore(bucket: str, role_arn: str) -> Result:
    ours = fault_statements(bucket, role_arn)
    return answer("restore", bucket, ours, converge(bucket, ours, lambda policy: without_fault(policy, ours)), {})


def status(bucket: str, role_arn: str) -> Result:
    ours = fault_statements(bucket, role_arn)
    policy = read_policy(bucket)
    sids, foreign = fault_sids(policy, ours), foreign_sids(policy, ours)
    fields = {"action": "status", "bucket": bucket, "fault_sids": sids, "foreign_sids": foreign}
    logger.info("fault status", extra=fields)
    return result("status", changed=False, fault_present=bool(sids), sids=sids, foreignSids=foreign)


# ------------------------------------------------------------------------------------------- handler
def missing_configuration(action: str) -> list[str]:
    """Environment variables the action needs but the function lacks (the component sets all three)."""
    needed = {"BUCKET_NAME": BUCKET_NAME, "TARGET_ROLE_ARN": TARGET_ROLE_ARN}
    if action == "inject":  # without its alarm's ARN no alarm event can be verified: none acts
        needed["ALARM_ARN"] = ALARM_ARN
    return [name for name, value in needed.items() if not value]


def ignored(reason: str, **fields: Any) -> Result:
    logger.warning("event ignored", extra={"action": "ignored", "reason": reason, **fields})
    return result("ignored", changed=False, fault_present=False, sids=[], reason=reason)


def handler(event: object, context: object) -> Result:
    action, reason = requested_action(event)
    if reason is not None:
        return ignored(reason)

    missing = missing_configuration(action)
    if missing:
        logger.error("configuration missing", extra={"action": action, "variables": missing})
        return result(
            action,
            changed=False,
            fault_present=False,
            sids=[],
            error="function is not configured",
            code="MissingConfiguration",
        )

    alarm = event if isinstance(event, dict) else {}  # "inject" always comes from a dict (requested_action)
    if action == "inject" and MAX_EVENT_AGE_PROBLEM is not None:
        logger.error("configuration invalid", extra={"action": action, "reason": MAX_EVENT_AGE_PROBLEM})
        return result(
            action,
            changed=False,
            fault_present=False,
            sids=[],
            error=f"function is misconfigured: {MAX_EVENT_AGE_PROBLEM}",
            code="InvalidConfiguration",
        )
    if action == "inject":
        rejection = alarm_rejection(alarm, ALARM_ARN, clock(), MAX_EVENT_AGE_SECONDS)
        if rejection is not None:
            return ignored(rejection, alarm_arn=alarm.get("alarmArn"), expected_alarm_arn=ALARM_ARN)

    try:
        if action == "inject":
            return inject(BUCKET_NAME, TARGET_ROLE_ARN, alarm)
        if action == "restore":
            return restore(BUCKET_NAME, TARGET_ROLE_ARN)
        return status(BUCKET_NAME, TARGET_ROLE_ARN)
    except AwsCallFailed as err:
        logger.error(
            "aws call failed",
            extra={"action": action, "error_code": err.code, "operation": err.operation, "bucket": BUCKET_NAME},
        )
        extra = {"attempts": err.attempts} if err.attempts else {}
        return result(
            action,
            changed=err.attempts > 0,
            fault_present=err.fault_present,
            sids=[],
            error=f"{err.operation} failed",
            code=err.code,
            **extra,
        )
