"""fault_injector: a reversible fault for the incident drill — deny the image function's role its bucket.

Events it answers:
- a CloudWatch alarm action (`source == "aws.cloudwatch"`) in state ALARM: merge two Deny statements
  (Sids below, Principal = TARGET_ROLE_ARN) into the bucket policy, keeping every other statement and
  the policy's Version/Id as they were;
- `{"action": "restore"}`: remove only the statements whose Sid starts with `AiopsFaultInjection`, and
  delete the policy when nothing else is left;
- `{"action": "status"}`: report whether the fault is present.
Both changes are idempotent: a second run finds nothing to do and writes nothing. OK / INSUFFICIENT_DATA
alarm events and malformed events change nothing and answer `action: "ignored"` with a reason.

Response: {"action", "changed", "faultPresent", "sids", "reason"?, "error"?, "code"?}. `sids` lists the
Sids this call added or replaced (inject) or removed (restore), and for status the fault Sids present.

AWS errors (e.g. AccessDenied on PutBucketPolicy) are logged with their code and answered with
"error"/"code" instead of raising: the alarm invokes this function asynchronously, and Lambda would
retry a raised error twice to the same end. botocore already retries throttling and 5XX itself.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, NotRequired, TypedDict

import boto3
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger()
logger.setLevel("INFO")

SID_PREFIX = "AiopsFaultInjection"
DENY_LIST_SID = f"{SID_PREFIX}DenyListBucket"
DENY_GET_SID = f"{SID_PREFIX}DenyGetObject"
POLICY_VERSION = "2012-10-17"

BUCKET_NAME = os.environ.get("BUCKET_NAME", "")
TARGET_ROLE_ARN = os.environ.get("TARGET_ROLE_ARN", "")

# Module-level client, reused by warm invocations.
s3 = boto3.client("s3")

Policy = dict[str, Any]
Statement = dict[str, Any]


class Result(TypedDict):
    action: str  # "inject" | "restore" | "status" | "ignored"
    changed: bool
    faultPresent: bool  # as last read from the bucket (False when reading it failed: see "error")
    sids: list[str]
    reason: NotRequired[str]
    error: NotRequired[str]
    code: NotRequired[str]


class AwsCallFailed(Exception):
    """An S3 call failed; carries what the log line and the response need."""

    def __init__(self, operation: str, code: str, fault_present: bool = False) -> None:
        super().__init__(f"{operation} failed: {code}")
        self.operation = operation
        self.code = code
        self.fault_present = fault_present


# ------------------------------------------------------------------------------------------- pure helpers
def requested_action(event: object) -> tuple[str, str | None]:
    """("inject" | "restore" | "status", None), or ("ignored", why) for anything else."""
    if not isinstance(event, dict):
        return "ignored", f"malformed event: expected a JSON object, got {type(event).__name__}"
    if event.get("source") == "aws.cloudwatch":
        alarm = event.get("alarmData")
        state = alarm.get("state") if isinstance(alarm, dict) else None
        value = state.get("value") if isinstance(state, dict) else None
        if not isinstance(value, str):
            return "ignored", "malformed alarm event: no alarmData.state.value"
        if value != "ALARM":
            return "ignored", f"alarm state is {value}: only ALARM injects the fault"
        return "inject", None
    action = event.get("action")
    if action in ("restore", "status"):
        return action, None
    if "action" in event:
        return "ignored", f"unknown action {action!r}: expected 'restore' or 'status'"
    return "ignored", 'unrecognised event: expected a CloudWatch alarm event or {"action": "restore"|"status"}'


def fault_statements(bucket: str, role_arn: str) -> list[Statement]:
    """The two statements the drill adds: the role can neither list the bucket nor read its objects."""
    principal = {"AWS": role_arn}
    return [
        {
            "Sid": DENY_LIST_SID,
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": DENY_GET_SID,
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    ]


def statements_of(policy: Policy) -> list[Any]:
    """The policy's statements as a list (the policy grammar also allows a single statement object)."""
    statements = policy.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def is_fault(statement: object) -> bool:
    return isinstance(statement, dict) and str(statement.get("Sid", "")).startswith(SID_PREFIX)


def fault_sids(policy: Policy) -> list[str]:
    return [s["Sid"] for s in statements_of(policy) if is_fault(s)]


def with_fault(policy: Policy, wanted: list[Statement]) -> tuple[Policy, list[str]]:
    """The policy with exactly `wanted` under our Sids, and the Sids added or replaced ([] = unchanged).

    Other statements keep their order and content; ours go last. A statement with one of our Sids but
    other content (the role was replaced, an older version of this function) is replaced. Returns the
    policy itself when it already holds exactly `wanted`.
    """
    ours = {s["Sid"] for s in wanted}

    def is_ours(statement: object) -> bool:
        return isinstance(statement, dict) and statement.get("Sid") in ours

    statements = statements_of(policy)
    current = [s for s in statements if is_ours(s)]
    if len(current) == len(wanted) and all(s in current for s in wanted):
        return policy, []
    # Every wanted statement can be present and the policy still differ (a duplicate, or a stale copy
    # under one of our Sids): then all of ours are rewritten.
    changed = [s["Sid"] for s in wanted if s not in current] or [s["Sid"] for s in wanted]
    return {**policy, "Statement": [*(s for s in statements if not is_ours(s)), *wanted]}, changed


def without_fault(policy: Policy) -> tuple[Policy, list[str]]:
    """The policy without any statement whose Sid has our prefix, and the Sids removed."""
    statements = statements_of(policy)
    removed = [s["Sid"] for s in statements if is_fault(s)]
    if not removed:
        return policy, []
    return {**policy, "Statement": [s for s in statements if not is_fault(s)]}, removed


def result(action: str, *, changed: bool, fault_present: bool, sids: list[str], **extra: str) -> Result:
    response: Result = {"action": action, "changed": changed, "faultPresent": fault_present, "sids": sids}
    response.update(extra)  # type: ignore[typeddict-item]
    return response


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


# ------------------------------------------------------------------------------------------- actions
def inject(bucket: str, role_arn: str, event: Any) -> Result:
    before = read_policy(bucket)
    after, sids = with_fault(before, fault_statements(bucket, role_arn))
    if not sids:
        logger.info("fault already present", extra={"action": "inject", "bucket": bucket, "sids_added": []})
        return result("inject", changed=False, fault_present=True, sids=[])
    write_policy(bucket, after, fault_present=bool(fault_sids(before)))
    alarm = event.get("alarmData", {})
    logger.info(
        "fault injected",
        extra={
            "action": "inject",
            "bucket": bucket,
            "sids_added": sids,
            "target_role_arn": role_arn,
            "alarm_name": alarm.get("alarmName"),
            "alarm_arn": event.get("alarmArn"),
        },
    )
    return result("inject", changed=True, fault_present=True, sids=sids)


def restore(bucket: str) -> Result:
    before = read_policy(bucket)
    after, sids = without_fault(before)
    if not sids:
        logger.info("no fault to remove", extra={"action": "restore", "bucket": bucket, "sids_removed": []})
        return result("restore", changed=False, fault_present=False, sids=[])
    write_policy(bucket, after, fault_present=True)
    logger.info(
        "fault removed",
        extra={
            "action": "restore",
            "bucket": bucket,
            "sids_removed": sids,
            "policy_deleted": not statements_of(after),
        },
    )
    return result("restore", changed=True, fault_present=False, sids=sids)


def status(bucket: str) -> Result:
    sids = fault_sids(read_policy(bucket))
    logger.info("fault status", extra={"action": "status", "bucket": bucket, "fault_sids": sids})
    return result("status", changed=False, fault_present=bool(sids), sids=sids)


# ------------------------------------------------------------------------------------------- handler
def missing_configuration(action: str) -> list[str]:
    """Environment variables the action needs but the function lacks (the component sets both)."""
    needed = {"BUCKET_NAME": BUCKET_NAME} | ({"TARGET_ROLE_ARN": TARGET_ROLE_ARN} if action == "inject" else {})
    return [name for name, value in needed.items() if not value]


def handler(event: object, context: object) -> Result:
    action, reason = requested_action(event)
    if reason is not None:
        logger.warning("event ignored", extra={"action": "ignored", "reason": reason})
        return result("ignored", changed=False, fault_present=False, sids=[], reason=reason)

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

    try:
        if action == "inject":
            return inject(BUCKET_NAME, TARGET_ROLE_ARN, event)  # a dict: requested_action checked it
        if action == "restore":
            return restore(BUCKET_NAME)
        return status(BUCKET_NAME)
    except AwsCallFailed as err:
        logger.error(
            "aws call failed",
            extra={"action": action, "error_code": err.code, "operation": err.operation, "bucket": BUCKET_NAME},
        )
        return result(
            action,
            changed=False,
            fault_present=err.fault_present,
            sids=[],
            error=f"{err.operation} failed",
            code=err.code,
        )
