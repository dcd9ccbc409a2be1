"""image_api: answer GET /random with a random JPEG or PNG object from the image bucket.

The bucket name comes from an SSM parameter (BUCKET_NAME_PARAMETER). The parameter value and the list
of image keys (key and listed size) are cached per container for IMAGE_CACHE_TTL_SECONDS (default 60,
0 disables), so a warm request makes exactly one AWS call (GetObject) whatever the number of objects.
GetObject is never cached, so a bucket-policy Deny shows up on the very next request.

What it serves:
- only .jpg/.jpeg/.png keys whose listed size is between 1 byte and MAX_IMAGE_BYTES: Lambda's
  synchronous response payload is capped at 6 MB (6,291,456 bytes, "Lambda quotas"), and the image
  travels base64-encoded (4 bytes per 3) inside the proxy response's JSON envelope;
- only bytes that are an image: JPEG (FF D8 FF) or PNG (89 50 4E 47 0D 0A 1A 0A), and the
  Content-Type follows those bytes, not the extension. An object that is not an image is logged once
  per container, never picked again by it, and another key is tried (at most MAX_ATTEMPTS GetObject
  calls per request). When none of the tried objects is an image the answer is 502 InvalidImageContent:
  the bucket has image keys but holds bad data, a server-side fault the API's 5XX alarm should see.
  404 stays reserved for a bucket that lists no servable image key at all.

Responses follow the API Gateway proxy format, each with `X-Content-Type-Options: nosniff`. Any AWS
error becomes a 500 JSON body {"error": ..., "code": <AWS error code>} plus one ERROR log line
"aws call failed" carrying error_code, operation, bucket and parameter as top-level fields of Lambda's
JSON log.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from typing import Any, NamedTuple, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError

logger = logging.getLogger()
logger.setLevel("INFO")

CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
# What the bytes must start with; the first match names the Content-Type.
SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
DEFAULT_CACHE_TTL_SECONDS = 60.0

# Lambda quotas: invocation payload (request and response) 6 MB for synchronous invocations.
RESPONSE_PAYLOAD_LIMIT = 6_291_456
# Room for the proxy response's JSON around the body (status, headers, flags: about 250 bytes today).
ENVELOPE_RESERVE = 8_192
# The largest object whose base64 form (4 bytes per 3) still fits: 4,712,448 bytes (about 4.5 MiB).
MAX_IMAGE_BYTES = (RESPONSE_PAYLOAD_LIMIT - ENVELOPE_RESERVE) // 4 * 3
MAX_ATTEMPTS = 3  # GetObject calls one request may spend looking for a real image
BASE_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "no-store",
    # Browsers must not second-guess the Content-Type (an object posing as an image, a JSON error).
    "X-Content-Type-Options": "nosniff",
}

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


class Listed(NamedTuple):
    """One object of the listing: its key and the size ListObjectsV2 reported."""

    key: str
    size: int


def servable(obj: Listed) -> bool:
    """An image key the API can return: not empty, and small enough for Lambda's response payload."""
    return content_type_for(obj.key) is not None and 0 < obj.size <= MAX_IMAGE_BYTES


def image_type(data: bytes) -> str | None:
    """The Content-Type the bytes prove (JPEG or PNG signature), or None when they are no such image."""
    return next((content_type for magic, content_type in SIGNATURES if data.startswith(magic)), None)


def pick_image_key(keys: Sequence[T]) -> T | None:
    """A uniformly random key, or None when there is none. `secrets` only because it needs no seeding."""
    return secrets.choice(keys) if keys else None


def json_response(status: int, body: dict[str, Any], extra_headers: dict[str, str] | None = None) -> Response:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **BASE_HEADERS, **(extra_headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def image_response(data: bytes, content_type: str) -> Response:
    # API Gateway turns the base64 body back into bytes because the API lists the image media types.
    return {
        "statusCode": 200,
        "headers": {"Content-Type": content_type, **BASE_HEADERS},
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
# Objects this container found not to be images (key and listed size): logged once, never fetched again.
# A replaced object lists with another size and becomes eligible again.
rejected: set[Listed] = set()


def _read_bucket_name() -> str:
    return ssm.get_parameter(Name=PARAMETER_NAME)["Parameter"]["Value"]


def servable_images(objects: Iterable[Listed], bucket: str | None = None) -> list[Listed]:
    """The servable objects; image keys left out for their size are counted in one log line."""
    objects = [obj for obj in objects if content_type_for(obj.key) is not None]
    kept = [obj for obj in objects if servable(obj)]
    if len(kept) < len(objects):
        skipped = [obj for obj in objects if not servable(obj)]
        logger.warning(
            "image keys skipped for their size",
            extra={
                "bucket": bucket,
                "empty": sum(1 for obj in skipped if obj.size <= 0),
                "too_large": [obj.key for obj in skipped if obj.size > MAX_IMAGE_BYTES][:20],
                "max_bytes": MAX_IMAGE_BYTES,
            },
        )
    return kept


def list_images(bucket: str) -> list[Listed]:
    """Every servable image in the bucket: all pages, not only the first 1000 objects."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    listed = (Listed(obj["Key"], int(obj.get("Size", 0))) for page in pages for obj in page.get("Contents", []))
    return servable_images(listed, bucket)


def reject(bucket: str, obj: Listed, data: bytes) -> None:
    """Remember an object that is not a servable image, and say so once per container."""
    if obj in rejected:
        return
    rejected.add(obj)
    reason = "too large for a Lambda response" if len(data) > MAX_IMAGE_BYTES else "not a JPEG or PNG"
    logger.warning(
        "object skipped: not a servable image",
        extra={"bucket": bucket, "key": obj.key, "bytes": len(data), "reason": reason, "head": data[:8].hex()},
    )


def fetch_image(bucket: str, images: Sequence[Listed]) -> tuple[Listed, bytes, str] | int:
    """A random object that really is a servable image, or the number of objects tried in vain.

    At most MAX_ATTEMPTS GetObject calls, each on a different key not rejected before.
    """
    candidates = [obj for obj in images if obj not in rejected]
    for attempt in range(MAX_ATTEMPTS):
        obj = pick_image_key(candidates)
        if obj is None:
            return attempt
        candidates.remove(obj)
        data = s3.get_object(Bucket=bucket, Key=obj.key)["Body"].read()
        content_type = image_type(data)
        if content_type is not None and len(data) <= MAX_IMAGE_BYTES:  # the object may have changed since listed
            return obj, data, content_type
        reject(bucket, obj, data)
    return MAX_ATTEMPTS


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
        images = cache.get(f"keys:{bucket}", lambda: list_images(bucket))
        if not images:
            logger.warning("no images found", extra={"bucket": bucket})
            detail = f"the bucket has no .jpg, .jpeg or .png of 1 to {MAX_IMAGE_BYTES} bytes"
            return json_response(404, {"error": "no images found", "detail": detail})
        operation = "GetObject"
        found = fetch_image(bucket, images)
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

    if isinstance(found, int):
        logger.error("no valid image found", extra={"bucket": bucket, "tried": found, "rejected": len(rejected)})
        body = {"error": "no valid image found", "code": "InvalidImageContent", "tried": found}
        return json_response(502, body)
    obj, data, content_type = found
    logger.info("image served", extra={"bucket": bucket, "key": obj.key, "bytes": len(data)})
    return image_response(data, content_type)
