"""Seed the image bucket at deploy time: Bedrock-generated images, or the bundled samples.

Run by `aws.lambda_.Invocation` (synchronous, re-run when its triggers change, and retried on failure):
- idempotent: a run with the model and count recorded in `seeder/manifest.json`, whose images are all
  still there, changes nothing; another model or count replaces the images the seeder wrote (and only
  those) with a fresh set (seeding.py);
- never raises: an exception would fail `pulumi up`, so every outcome, whatever the event, is a returned
  dict with a `status` of generated | fallback | skipped | failed, plus one structured log line per decision;
- Bedrock is optional: any Bedrock failure (end-of-life model, Marketplace subscription or model access
  missing, region without the model, throttling, filtered, empty or too large answer, too little time
  left) uploads the images bundled in samples/ instead; images generated before it are kept;
- IAM is eventually consistent: AccessDenied is retried for up to 75 s before it counts (seed_retry.py).

Environment: BUCKET_NAME, MODEL_ID (a Bedrock image model id), IMAGE_COUNT (default 5, at most 20).
Event: anything. `{"tf": {"action": "delete"}}` (an Invocation with CRUD scope on destroy) does nothing;
`{"force": true}` re-seeds even when the recorded seed stands; other fields are ignored.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from seed_bedrock import needs_a_person
from seed_retry import ACCESS_DENIED, AccessRetry
from seed_store import Store
from seeding import CONNECT_TIMEOUT_S, MAX_ATTEMPTS, MAX_WORKERS, READ_TIMEOUT_S, Run, seed

logger = logging.getLogger()
logger.setLevel("INFO")

DEFAULT_IMAGE_COUNT = 5
MAX_IMAGE_COUNT = 20  # the stack configuration allows 1..20
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
EVENT_FIELDS = frozenset({"tf", "force", "reason"})  # "reason": the deploy's own label, informative only

# Injected time, so tests of the IAM retry window run instantly.
sleep = time.sleep
clock = time.monotonic


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


s3 = boto3.client("s3", config=Config(max_pool_connections=MAX_WORKERS * 2))
bedrock = boto3.client(
    "bedrock-runtime",
    config=Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
        max_pool_connections=MAX_WORKERS * 2,
    ),
)


def parse_image_count(raw: str | None) -> int:
    """IMAGE_COUNT as an int in 1..MAX_IMAGE_COUNT; a bad value falls back to the default (logged)."""
    if raw is None or not raw.strip():
        return DEFAULT_IMAGE_COUNT
    try:
        count = int(raw)
    except ValueError:
        count = 0
    if 1 <= count <= MAX_IMAGE_COUNT:
        return count
    logger.warning(
        "invalid IMAGE_COUNT, using the default",
        extra={"value": raw, "default": DEFAULT_IMAGE_COUNT, "allowed": f"1..{MAX_IMAGE_COUNT}"},
    )
    return DEFAULT_IMAGE_COUNT


def parse_event(event: Any) -> tuple[str, bool]:
    """(lifecycle action, force) from any event; what is not understood is logged and ignored."""
    if not isinstance(event, dict):
        logger.warning("event ignored: not a JSON object", extra={"event_type": type(event).__name__})
        return "create", False
    unknown = sorted(str(k) for k in event if k not in EVENT_FIELDS)
    if unknown:
        logger.warning("event fields ignored", extra={"fields": unknown})
    tf = event.get("tf")
    action = tf.get("action") if isinstance(tf, dict) else None
    return (action if isinstance(action, str) else "create"), event.get("force") is True


def remaining_ms(context: Any) -> int | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() if callable(getter) else None


def rerun_command() -> str:
    name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "<prefix>-image-seeder")
    payload = "--cli-binary-format raw-in-base64-out --payload '{\"force\": true}'"
    return f"aws lambda invoke --function-name {name} {payload} /dev/stdout"


def handler(event: Any, context: Any) -> dict[str, Any]:
    bucket = os.environ.get("BUCKET_NAME", "")
    model_id = os.environ.get("MODEL_ID", "")
    written: list[str] = []
    base = {"bucket": bucket, "model": model_id}
    try:
        action, force = parse_event(event)
        if action == "delete":
            # An Invocation with lifecycle scope CRUD calls us on destroy; force_destroy empties the bucket.
            logger.info("seeding skipped: stack is being destroyed", extra={"bucket": bucket})
            return base | {"status": "skipped", "keys": [], "reason": "delete"}
        if not bucket:
            raise ValueError("environment variable BUCKET_NAME is not set")
        count = parse_image_count(os.environ.get("IMAGE_COUNT"))
        logger.info("seeding bucket", extra={"bucket": bucket, "model": model_id, "image_count": count, "force": force})
        # Whether the role may subscribe to the model (components/seeder_iam.py): without it, a Marketplace
        # denial is certain and not waited out.
        granted = os.environ.get("MARKETPLACE_GRANTED") == "true"
        retry = AccessRetry.starting_now(
            remaining_ms(context), sleep=sleep, clock=clock, final=lambda err: needs_a_person(err, granted)
        )
        run = Run(
            store=Store(s3, bucket, retry),
            bedrock=bedrock,
            retry=retry,
            model_id=model_id,
            count=count,
            force=force,
            remaining_ms=lambda: remaining_ms(context),
            samples_dir=SAMPLES_DIR,
            rerun=rerun_command(),
            now=utc_now,
            written=written,
        )
        result = base | seed(run)
    except ClientError as err:  # S3 refused a list, read or write: the seed cannot happen, say so clearly
        code = err.response["Error"]["Code"]
        error = f"{err.operation_name} on bucket {bucket!r} failed: {code}"
        if code in ACCESS_DENIED and hasattr(err, "access_retry"):
            waited = err.access_retry
            error += (
                f", still denied after {waited['attempts']} attempts over {waited['waitedSeconds']} s "
                "(longer than IAM takes to propagate a new policy): check the seeder role's policy and the "
                "bucket policy"
            )
        logger.error(
            "seeding failed: aws call failed",
            extra={"error_code": code, "operation": err.operation_name, "bucket": bucket, "keys": written},
        )
        failed = {"status": "failed", "keys": written, "error": error, "code": code}
        return base | failed | {"operation": err.operation_name}
    except Exception as err:  # never fail the deploy; the error is in the result and the log
        logger.exception("seeding failed: unexpected error", extra={"bucket": bucket, "keys": written})
        return base | {"status": "failed", "keys": written, "error": f"{type(err).__name__}: {err}"}
    logger.info("seeding done", extra={"status": result["status"], "bucket": bucket, "keys": result["keys"]})
    return result
