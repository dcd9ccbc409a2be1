"""Bedrock side of the seeder: request bodies per model family, answer parsing, and readable failures.

Every way Bedrock can fail to give a usable image ends as `BedrockUnavailable(reason, detail)`; the caller
falls back to the bundled samples. AccessDenied answers are retried by the caller's `AccessRetry` first
(IAM propagation), and only then classified: a Marketplace subscription, a payment method or model access
that a person must enable once is named as such, with the step and the documentation page. A denial that
waiting cannot cure (`needs_a_person`) is not retried: the first deploy in a fresh account does not wait
75 s for a failure that is certain.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

BATCH_LIMIT = 5  # Titan Image Generator and Nova Canvas answer at most 5 images per request

# The image API returns an image base64-encoded in a Lambda proxy response, capped at 6 MB (6,291,456 bytes)
# for the whole JSON payload. Leave 16 KiB for the envelope (statusCode, headers, isBase64Encoded): the body may
# hold 6,275,072 base64 characters, i.e. 6,275,072 / 4 * 3 = 4,706,304 image bytes (about 4.5 MB).
LAMBDA_RESPONSE_LIMIT = 6_291_456
ENVELOPE_RESERVE = 16 * 1024
MAX_IMAGE_BYTES = (LAMBDA_RESPONSE_LIMIT - ENVELOPE_RESERVE) // 4 * 3
MAX_IMAGE_BASE64 = (LAMBDA_RESPONSE_LIMIT - ENVELOPE_RESERVE) // 4 * 4

MODEL_ACCESS_DOC = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html"

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


class BedrockUnavailable(Exception):
    """Bedrock did not give us images; `reason` is the AWS error code or a short description."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def image_type(data: bytes) -> tuple[str, str] | None:
    """(extension, Content-Type) from the file's magic bytes, or None if it is neither PNG nor JPEG."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png", "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg", "image/jpeg"
    return None


def prompt(index: int) -> str:
    subject = PROMPT_SUBJECTS[index % len(PROMPT_SUBJECTS)]
    return f"A cheerful {subject} wearing sunglasses on a sunny day, portrait photo, high detail"


def request_plan(model_id: str, count: int) -> list[tuple[int, int, dict[str, Any]]]:
    """(first image index, images wanted, InvokeModel body) per call that asks `model_id` for `count` images.

    The index fixes each image's key whatever order the calls finish in.
    """
    if model_id.startswith("stability."):
        # Stability (Stable Image Core/Ultra, SD3.5) answers one image per call.
        return [(i, 1, {"prompt": prompt(i), "output_format": "jpeg", "aspect_ratio": "1:1"}) for i in range(count)]
    if model_id.startswith(("amazon.titan-image-generator", "amazon.nova-canvas")):
        plan = []
        for batch, start in enumerate(range(0, count, BATCH_LIMIT)):
            wanted = min(BATCH_LIMIT, count - start)
            body = {
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": prompt(batch)},
                "imageGenerationConfig": {
                    "numberOfImages": wanted,
                    "height": 512,
                    "width": 512,
                    "cfgScale": 8.0,
                    "seed": batch,
                },
            }
            plan.append((start, wanted, body))
        return plan
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
        if not isinstance(encoded, str):
            raise BedrockUnavailable("InvalidResponse", "image is not a base64 string")
        # Refused before decoding: MAX_IMAGE_BASE64 characters decode to at most MAX_IMAGE_BYTES bytes.
        if len(encoded) > MAX_IMAGE_BASE64:
            too_large = f"{len(encoded)} base64 characters decode to over {MAX_IMAGE_BYTES} bytes"
            raise BedrockUnavailable("ImageTooLarge", f"{too_large}; the image API could not serve it")
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


PAYMENT, SUBSCRIPTION, MODEL_ACCESS = (
    "MarketplacePaymentMethodRequired",
    "MarketplaceSubscriptionRequired",
    "ModelAccessNotEnabled",
)


def one_time_step(message: str) -> str | None:
    """Which step a person must take once, from Bedrock's AccessDeniedException message (None: not one of them)."""
    text = message.lower()
    if "payment" in text:
        return PAYMENT
    if "marketplace" in text or "subscri" in text:
        return SUBSCRIPTION
    if "access to the model" in text or "model access" in text:
        return MODEL_ACCESS
    return None


def needs_a_person(err: ClientError, marketplace_granted: bool) -> bool:
    """An AccessDenied that IAM propagation cannot cure. A payment method or model access is never the role's
    policy; a Marketplace denial is, only when the role was granted Marketplace actions (still propagating)."""
    step = one_time_step(err.response["Error"].get("Message", ""))
    return step in (PAYMENT, MODEL_ACCESS) or (step == SUBSCRIPTION and not marketplace_granted)


def access_denied(model_id: str, message: str, rerun: str) -> BedrockUnavailable:
    """An AccessDeniedException that outlived the IAM retry window, named by the one-time step it needs.

    Third-party models (Stability) are AWS Marketplace products: the account's first call subscribes, and
    that needs aws-marketplace:Subscribe/ViewSubscriptions on the caller and a valid payment method
    (Bedrock user guide, "Request access to models").
    """
    step = one_time_step(message)
    then = f"then re-run the seeder: {rerun}. AWS said: {message} See {MODEL_ACCESS_DOC}"
    if step == PAYMENT:
        return BedrockUnavailable(
            PAYMENT,
            f"One-time step: add a valid payment method for AWS Marketplace purchases to this account "
            f"(Billing and Cost Management console, Payment preferences) so Bedrock can subscribe to "
            f"{model_id}; {then}",
        )
    if step == SUBSCRIPTION:
        return BedrockUnavailable(
            SUBSCRIPTION,
            f"One-time step: {model_id} is an AWS Marketplace product and this account is not subscribed. "
            f"Have a person whose IAM identity may call aws-marketplace:Subscribe, aws-marketplace:ViewSubscriptions "
            f"and aws-marketplace:Unsubscribe run the model once in the Amazon Bedrock console (Model catalog, "
            f"the model, Open in playground, one prompt) or invoke it once, or grant those actions to this "
            f"function's role; the subscription can take up to 15 minutes; {then}",
        )
    if step == MODEL_ACCESS:
        return BedrockUnavailable(
            MODEL_ACCESS,
            f"One-time step: enable access to {model_id} in the Amazon Bedrock console of this region "
            f"(Model access, or the model's page in the Model catalog); {then}",
        )
    return BedrockUnavailable("AccessDeniedException", message)


def invoke(bedrock: Any, retry: Any, model_id: str, body: dict[str, Any], rerun: str) -> list[bytes]:
    """One InvokeModel call (AccessDenied retried through `retry`), as decoded images."""
    try:
        response = retry.call(
            bedrock.invoke_model,
            modelId=model_id,
            body=json.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        payload = response["body"].read()
    except ClientError as err:
        code, message = err.response["Error"]["Code"], err.response["Error"].get("Message", "")
        if code == "AccessDeniedException":
            raise access_denied(model_id, message, rerun) from err
        raise BedrockUnavailable(code, message) from err
    except BotoCoreError as err:  # no bedrock-runtime endpoint in the region, connect/read timeouts
        raise BedrockUnavailable(type(err).__name__, str(err)) from err
    return parse_images(payload)
