"""image_api: answer GET /random with a random .jpg/.jpeg/.png object from the image bucket.

The bucket name comes from an SSM parameter (BUCKET_NAME_PARAMETER). The parameter value and the list
of image keys are cached per container for IMAGE_CACHE_TTL_SECONDS (default 60, 0 disables), so a warm
request makes exactly one AWS call (GetObject) whatever the number of objects. GetObject is never
cached, so a bucket-policy Deny shows up on the very next request.

Responses follow the API Gateway proxy format. Any AWS error becomes a 500 JSON body
{"error": ..., "code": <AWS error code>} plus one ERROR log line "aws call failed" carrying
error_code, operation, bucket and parameter as top-level fields of Lambda's JSON log.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from typing import Any, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger()
logger.setLevel("INFO")

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
DEFAULT_CACHE_TTL_SECONDS = 60.0

Response = dict[str, Any]
T = TypeVar("T")


def cache_ttl_seconds(raw: str | None) -> float:
    """TTL from the environment; an unusable value falls back to the default rather than failing requests."""
    if raw is None or not raw.strip():
        return DEFAULT_CACHE_TTL_SECONDS
    try:
        ttl = float(raw)
    except ValueError:
        ttl = -1.0
    if not ttl >= 0:  # also rejects NaN
        logger.warning("invalid IMAGE_CACHE_TTL_SECONDS, using default", extra={"value": raw})
        return DEFAULT_CACHE_TTL_SECONDS
    return ttl


PARAMETER_NAME = os.environ.get("BUCKET_NAME_PARAMETER", "")
CACHE_TTL_SECONDS = cache_ttl_seconds(os.environ.get("IMAGE_CACHE_TTL_SECONDS"))

# Module-level clients are reused by warm invocations (no new connection per request).
ssm = boto3.client("ssm")
s3 = boto3.client("s3")


# ------------------------------------------------------------------------------------------- pure helpers
def content_type_for(key: str) -> str | None:
    """Content-Type for an image key by its extension (case-insensitive); None for anything else."""
    _, dot, extension = key.rpartition(".")
    return CONTENT_TYPES.get(f".{extension.lower()}") if dot else None


def image_keys(keys: Iterable[str]) -> list[str]:
    """Only the keys the API may serve."""
    return [key for key in keys if content_type_for(key) is not None]


def pick_image_key(keys: Sequence[str]) -> str | None:
    """A uniformly random key, or None when there is none. `secrets` only because it needs no seeding."""
    return secrets.choice(keys) if keys else None


def json_response(status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/json",
            "Access-Control-Allow-Origin": "*",
            "Cache-Control": "no-store",
            **(extra_headers or {}),
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def image_response(data: bytes, content_type: str) -> Response:
    # API Gateway turns the base64 body back into bytes because the API lists the image media types.
    return {
        "statusCode": 200,
        "headers": {"Content-Type": content_type, "Access-Control-Allow-Origin": "*", "Cache-Control": "no-store"},
        "body": base64.b64encode(data).decode("ascii"),
        "isBase64Encoded": True,
    }


def request_method(event: object) -> str | None:
    """The HTTP method; GET for a direct invoke without one (the drill invokes the function directly).

    None means the event is not something this function can answer.
    """
    if not isinstance(event, dict):
        return None
    method = event.get("httpMethod", "GET")
    return method.upper() if isinstance(method, str) else None


# ------------------------------------------------------------------------------------------- per-container cache
class TtlCache:
    """Values kept for `ttl` seconds of monotonic time (wall-clock jumps must not expire or pin them)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[float, Any]] = {}

    def get(self, name: str, load: Callable[[], T], keep: Callable[[T], bool] = bool) -> T:
        now = monotonic()
        entry = self._entries.get(name)
        if entry is not None and now < entry[0]:
            return entry[1]
        value = load()
        if self.ttl > 0 and keep(value):
            self._entries[name] = (now + self.ttl, value)
        return value

    def drop(self, name: str | None = None) -> None:
        """Forget one entry, or everything when `name` is None."""
        if name is None:
            self._entries.clear()
        else:
            self._entries.pop(name, None)


cache = TtlCache(CACHE_TTL_SECONDS)


def _read_bucket_name() -> str:
    return ssm.get_parameter(Name=PARAMETER_NAME)["Parameter"]["Value"]


def list_image_keys(bucket: str) -> list[str]:
    """Every image key in the bucket: all pages, not only the first 1000 objects."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return image_keys(obj["Key"] for page in pages for obj in page.get("Contents", []))


# ------------------------------------------------------------------------------------------- handler
def handler(event: object, context: object) -> Response:
    method = request_method(event)
    if method is None:
        logger.error("malformed event", extra={"event_type": type(event).__name__})
        return json_response(400, {"error": "malformed event: expected an API Gateway proxy event object"})
    if method != "GET":
        logger.warning("method not allowed", extra={"method": method})
        return json_response(405, {"error": f"method {method} not allowed"}, {"Allow": "GET"})
    if not PARAMETER_NAME:
        logger.error("configuration missing", extra={"variable": "BUCKET_NAME_PARAMETER"})
        return json_response(500, {"error": "function is not configured", "code": "MissingConfiguration"})

    # The call in flight, tracked here because BotoCoreError (unlike ClientError) does not name it.
    operation, bucket = "GetParameter", None
    try:
        bucket = cache.get("bucket", _read_bucket_name)
        operation = "ListObjectsV2"
        # Cached per bucket name so a changed parameter never serves keys of the old bucket. An empty
        # listing is not kept: images seeded right after a 404 must show up on the next request.
        keys = cache.get(f"keys:{bucket}", lambda: list_image_keys(bucket))
        key = pick_image_key(keys)
        if key is None:
            logger.warning("no images found", extra={"bucket": bucket})
            return json_response(404, {"error": "no images found", "detail": "the bucket has no .jpg, .jpeg or .png"})
        operation = "GetObject"
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as err:
        # ClientError carries AWS's error code; BotoCoreError (timeout, no endpoint) only its class name.
        code = err.response["Error"]["Code"] if isinstance(err, ClientError) else type(err).__name__
        if code == "NoSuchKey":  # deleted since it was listed: relist next time
            cache.drop(f"keys:{bucket}")
        elif code == "NoSuchBucket":  # the parameter may now name another bucket
            cache.drop()
        logger.error(
            "aws call failed",
            extra={"error_code": code, "operation": operation, "bucket": bucket, "parameter": PARAMETER_NAME},
        )
        # The AWS message can name roles and ARNs; the public body carries only the operation and the code.
        return json_response(500, {"error": f"{operation} failed", "code": code})

    logger.info("image served", extra={"bucket": bucket, "key": key, "bytes": len(data)})
    return image_response(data, content_type_for(key) or "application/octet-stream")
