"""Seed the image bucket once, at deploy time: Bedrock-generated images, or the bundled samples.

Run by `aws.lambda_.Invocation` (synchronous, and retried on failure), so three rules shape it:
- idempotent: a bucket that already holds images is left alone (no Bedrock call, no writes);
- never raises: an exception would fail `pulumi up`, so every outcome is a returned dict with a
  `status` of generated | fallback | skipped | failed, plus one structured log line per decision;
- Bedrock is optional: any Bedrock failure (end-of-life model, no model access, region without the
  model, throttling, filtered or empty answer, too little time left) uploads the images bundled in
  samples/ instead. Images generated before the failure are kept and the samples are added to them,
  so the API always has several images to choose from (status "fallback", with both key lists).

Environment: BUCKET_NAME, MODEL_ID (a Bedrock image model id), IMAGE_COUNT (default 5, at most 20).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger()
logger.setLevel("INFO")

DEFAULT_IMAGE_COUNT = 5
MAX_IMAGE_COUNT = 20  # the stack configuration allows 1..20
BATCH_LIMIT = 5  # Titan Image Generator and Nova Canvas answer at most 5 images per request
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SAMPLES_DIR = Path(__file__).resolve().parent / "samples"

# The function has 300 s. One InvokeModel call can take up to (connect + read timeout) × attempts; do not
# start a call unless that much time, plus time to upload the samples, is left.
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, MAX_ATTEMPTS = 5, 60, 2
CALL_BUDGET_MS = (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) * MAX_ATTEMPTS * 1000
SAMPLES_BUDGET_MS = 15_000

PROMPT_SUBJECTS = (
    "golden retriever",
    "dachshund",
    "husky",
    "pug",
    "border collie",
    "beagle",
    "corgi",
    "dalmatian",
    "poodle",
    "shiba inu",
)

s3 = boto3.client("s3")
bedrock = boto3.client(
    "bedrock-runtime",
    config=Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    ),
)


class SeedResult(TypedDict):
    status: str  # generated | fallback | skipped | failed
    bucket: str
    model: str
    keys: list[str]  # every object this invocation wrote
    reason: NotRequired[str]  # fallback/skipped: why (the AWS error code when there is one)
    detail: NotRequired[str]
    generatedKeys: NotRequired[list[str]]
    sampleKeys: NotRequired[list[str]]
    existingKey: NotRequired[str]
    error: NotRequired[str]  # failed: what went wrong
    code: NotRequired[str]
    operation: NotRequired[str]


class BedrockUnavailable(Exception):
    """Bedrock did not give us images; `reason` is the AWS error code or a short description."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


# ----------------------------------------------------------------------------------- pure helpers
def image_type(data: bytes) -> tuple[str, str] | None:
    """(extension, Content-Type) from the file's magic bytes, or None if it is neither PNG nor JPEG."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg", "image/jpeg"
    return None


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


def prompt(index: int) -> str:
    subject = PROMPT_SUBJECTS[index % len(PROMPT_SUBJECTS)]
    return f"A cheerful {subject} wearing sunglasses on a sunny day, portrait photo, high detail"


def request_bodies(model_id: str, count: int) -> list[dict[str, Any]]:
    """The InvokeModel bodies that ask `model_id` for `count` images, in its family's request schema."""
    if model_id.startswith("stability."):
        # Stability (Stable Image Core/Ultra, SD3.5) answers one image per call.
        return [{"prompt": prompt(i), "output_format": "jpeg", "aspect_ratio": "1:1"} for i in range(count)]
    if model_id.startswith(("amazon.titan-image-generator", "amazon.nova-canvas")):
        return [
            {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": prompt(batch)},
                "imageGenerationConfig": {
                    "numberOfImages": min(BATCH_LIMIT, count - start),
                    "height": 512,
                    "width": 512,
                    "cfgScale": 8.0,
                    "seed": batch,
                },
            }
            for batch, start in enumerate(range(0, count, BATCH_LIMIT))
        ]
    raise BedrockUnavailable("UnsupportedModel", f"no known request schema for model id {model_id!r}")


def parse_images(payload: bytes) -> list[bytes]:
    """Decoded images from an InvokeModel answer (both families answer {"images": [base64, ...]})."""
    try:
        body = json.loads(payload)
    except ValueError as err:
        raise BedrockUnavailable("InvalidResponse", "answer is not JSON") from err
    if not isinstance(body, dict):
        raise BedrockUnavailable("InvalidResponse", "answer is not a JSON object")
    if body.get("error"):  # Titan/Nova report a refused prompt here
        raise BedrockUnavailable("ModelError", str(body["error"]))
    filtered = [r for r in body.get("finish_reasons") or [] if r]  # Stability: null means success
    if filtered:
        raise BedrockUnavailable("ContentFiltered", str(filtered[0]))
    images = []
    for encoded in body.get("images") or []:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError, ValueError) as err:
            raise BedrockUnavailable("InvalidResponse", "image is not base64") from err
        if image_type(data) is None:
            raise BedrockUnavailable("UnsupportedImageFormat", "image is neither PNG nor JPEG")
        images.append(data)
    if not images:
        raise BedrockUnavailable("NoImagesInResponse", "answer has no images")
    return images


def remaining_ms(context: Any) -> int | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() if callable(getter) else None


# ----------------------------------------------------------------------------------- AWS calls
def existing_image(bucket: str) -> str | None:
    """The first image key in the bucket, or None. Stops listing at the first hit."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].lower().endswith(IMAGE_SUFFIXES):
                return item["Key"]
    return None


def put_image(bucket: str, key: str, data: bytes, content_type: str, source: str) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
    logger.info(
        "image stored",
        extra={"bucket": bucket, "key": key, "content_type": content_type, "bytes": len(data), "source": source},
    )
    return key


def invoke(model_id: str, body: dict[str, Any]) -> list[bytes]:
    try:
        response = bedrock.invoke_model(
            modelId=model_id, body=json.dumps(body), contentType="application/json", accept="application/json"
        )
        payload = response["body"].read()
    except ClientError as err:
        raise BedrockUnavailable(err.response["Error"]["Code"], err.response["Error"].get("Message", "")) from err
    except BotoCoreError as err:  # no bedrock-runtime endpoint in the region, connect/read timeouts
        raise BedrockUnavailable(type(err).__name__, str(err)) from err
    return parse_images(payload)


def generate(bucket: str, model_id: str, count: int, context: Any, written: list[str]) -> None:
    """Generate and store up to `count` images, appending keys to `written` as they land in S3.

    Raises BedrockUnavailable when Bedrock stops giving images; S3 errors propagate unchanged.
    """
    for body in request_bodies(model_id, count):
        left = remaining_ms(context)
        if left is not None and left < CALL_BUDGET_MS + SAMPLES_BUDGET_MS:
            raise BedrockUnavailable("OutOfTime", f"{left} ms left, not enough for another model call")
        for data in invoke(model_id, body)[: count - len(written)]:
            extension, content_type = image_type(data)
            key = f"generated/{len(written) + 1:02d}-{hashlib.sha256(data).hexdigest()[:12]}{extension}"
            written.append(put_image(bucket, key, data, content_type, "bedrock"))


def upload_samples(bucket: str, written: list[str]) -> list[str]:
    keys = []
    for path in sorted(SAMPLES_DIR.iterdir()):
        data = path.read_bytes()
        kind = image_type(data)  # the key's extension and Content-Type follow the bytes, not the file name
        if kind is None:
            logger.warning("bundled file skipped: not a PNG or JPEG", extra={"file": path.name})
            continue
        keys.append(put_image(bucket, f"samples/{path.stem}{kind[0]}", data, kind[1], "sample"))
        written.append(keys[-1])
    if not keys:
        raise RuntimeError(f"no sample images bundled in {SAMPLES_DIR}")
    return keys


# ----------------------------------------------------------------------------------- handler
def seed(bucket: str, model_id: str, count: int, context: Any, written: list[str]) -> SeedResult:
    found = existing_image(bucket)
    if found is not None:
        logger.info("seeding skipped: bucket already holds images", extra={"bucket": bucket, "existing_key": found})
        return {
            "status": "skipped",
            "bucket": bucket,
            "model": model_id,
            "keys": [],
            "reason": "bucket already holds images",
            "existingKey": found,
        }
    try:
        generate(bucket, model_id, count, context, written)
    except BedrockUnavailable as failure:
        generated = list(written)
        logger.warning(
            "bedrock gave no images, uploading bundled samples",
            extra={
                "error_code": failure.reason,
                "detail": failure.detail,
                "operation": "InvokeModel",
                "model": model_id,
                "bucket": bucket,
                "generated_before_failure": len(generated),
            },
        )
        samples = upload_samples(bucket, written)
        return {
            "status": "fallback",
            "bucket": bucket,
            "model": model_id,
            "keys": list(written),
            "reason": failure.reason,
            "detail": failure.detail,
            "generatedKeys": generated,
            "sampleKeys": samples,
        }
    return {"status": "generated", "bucket": bucket, "model": model_id, "keys": list(written)}


def handler(event: Any, context: Any) -> SeedResult:
    bucket = os.environ.get("BUCKET_NAME", "")
    model_id = os.environ.get("MODEL_ID", "")
    written: list[str] = []
    if not isinstance(event, dict):
        logger.warning("event ignored: not a JSON object", extra={"event_type": type(event).__name__})
    elif (event.get("tf") or {}).get("action") == "delete":
        # An Invocation with lifecycle scope CRUD calls us on destroy; force_destroy empties the bucket.
        logger.info("seeding skipped: stack is being destroyed", extra={"bucket": bucket})
        return {"status": "skipped", "bucket": bucket, "model": model_id, "keys": [], "reason": "delete"}
    try:
        if not bucket:
            raise ValueError("environment variable BUCKET_NAME is not set")
        count = parse_image_count(os.environ.get("IMAGE_COUNT"))
        logger.info("seeding bucket", extra={"bucket": bucket, "model": model_id, "image_count": count})
        result = seed(bucket, model_id, count, context, written)
    except ClientError as err:  # S3 refused a list or write: the seed cannot happen, say so clearly
        code = err.response["Error"]["Code"]
        logger.error(
            "seeding failed: aws call failed",
            extra={"error_code": code, "operation": err.operation_name, "bucket": bucket, "keys": written},
        )
        return {
            "status": "failed",
            "bucket": bucket,
            "model": model_id,
            "keys": written,
            "error": f"{err.operation_name} on bucket {bucket!r} failed: {code}",
            "code": code,
            "operation": err.operation_name,
        }
    except Exception as err:  # never fail the deploy; the error is in the result and the log
        logger.exception("seeding failed: unexpected error", extra={"bucket": bucket, "keys": written})
        return {
            "status": "failed",
            "bucket": bucket,
            "model": model_id,
            "keys": written,
            "error": f"{type(err).__name__}: {err}",
        }
    logger.info("seeding done", extra={"status": result["status"], "bucket": bucket, "keys": result["keys"]})
    return result
