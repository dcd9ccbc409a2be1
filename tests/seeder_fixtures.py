"""Shared fixtures for the image_seeder tests: moto S3, a fake Bedrock client, a fake clock, S3 denials.

Bedrock is a fake rather than a Stubber: the seeder calls it from several threads, and a Stubber hands its
queued answers to whichever thread asks first. The fake answers from the request itself (so each image
follows from its prompt or seed, whatever the order), and still validates every request against the
bedrock-runtime service model, as the Stubber does.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.validate import validate_parameters
from conftest import REGION, ROOT, load_handler, shared_session

BUCKET = "seed-bucket"
STABILITY = "stability.stable-image-core-v1:1"
SAMPLES = ROOT / "functions" / "image_seeder" / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg", ".jpeg"))
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
NOW = "2026-11-25T23:00:00+00:00"


def fake_png(tag: str) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + tag.encode()


def fake_jpeg(tag: str) -> bytes:
    return b"\xff\xd8\xff\xe0" + tag.encode()


def answer(body: dict | bytes) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return {"body": StreamingBody(io.BytesIO(raw), len(raw)), "contentType": "application/json"}


def stability_answer(image: bytes) -> dict:
    return answer({"seeds": [42], "finish_reasons": [None], "images": [base64.b64encode(image).decode()]})


def titan_answer(images: list[bytes]) -> dict:
    return answer({"images": [base64.b64encode(i).decode() for i in images], "error": None})


def image_for(body: dict, i: int = 0) -> bytes:
    """The image the fake model draws for a request: Stability JPEG from the prompt, Titan PNG from the seed."""
    if "prompt" in body:
        return fake_jpeg(body["prompt"])
    return fake_png(f"seed-{body['imageGenerationConfig']['seed']}-{i}")


def default_answer(model_id: str, body: dict) -> dict:
    if "prompt" in body:
        return stability_answer(image_for(body))
    return titan_answer([image_for(body, i) for i in range(body["imageGenerationConfig"]["numberOfImages"])])


def aws_error(code: str, operation: str = "InvokeModel", message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or f"{code} for the test"}}, operation)


class FakeBedrock:
    """bedrock-runtime's invoke_model, thread-safe: `respond(model_id, body)` returns an answer or raises."""

    def __init__(self, real_client: Any) -> None:
        self.input_shape = real_client.meta.service_model.operation_model("InvokeModel").input_shape
        self.respond: Callable[[str, dict], dict] = default_answer
        self.sent: list[tuple[str, dict]] = []
        self.lock = threading.Lock()

    def invoke_model(self, **params: Any) -> dict:
        validate_parameters(params, self.input_shape)  # raises ParamValidationError like a real client
        body = json.loads(params["body"])
        with self.lock:
            self.sent.append((params["modelId"], body))
        return self.respond(params["modelId"], body)


class FakeClock:
    """monotonic() and sleep() for the seeder: sleeping only moves the clock, and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("MODEL_ID", STABILITY)
    monkeypatch.setenv("IMAGE_COUNT", "5")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "aiops-demo-dev-image-seeder")
    return monkeypatch


def create_bucket(s3: Any, name: str = BUCKET) -> None:
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})


@pytest.fixture(scope="module")
def test_s3(moto_for_module) -> Any:
    """The test's own S3 client, made once a module: a client costs more than a moto call, and no test changes
    it (deny_s3 and the like hook the seeder's client, made afresh with each handler)."""
    return shared_session().client("s3")


@pytest.fixture
def s3(aws_reset, env, test_s3):
    create_bucket(test_s3)
    return test_s3


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def seeder(s3, env, fake_clock):
    """The handler module with injected time (no test ever sleeps) and a fixed manifest timestamp."""
    module = load_handler("image_seeder")
    env.setattr(module, "sleep", fake_clock.sleep)
    env.setattr(module, "clock", fake_clock.clock)
    env.setattr(module, "utc_now", lambda: NOW)
    return module


@pytest.fixture
def bedrock(seeder, env) -> FakeBedrock:
    fake = FakeBedrock(seeder.bedrock)
    env.setattr(seeder, "bedrock", fake)
    return fake


def deny_s3(seeder: Any, operation: str, times: int | None = None, code: str = "AccessDenied") -> list[int]:
    """Make the seeder's S3 client answer `operation` with 403 `code` (`times` times, or always).

    Short-circuits botocore's before-call event, so moto never sees the request; returns a one-element
    list counting the denials.
    """
    denied = [0]

    def deny(**_: Any):
        if times is not None and denied[0] >= times:
            return None
        denied[0] += 1
        http = SimpleNamespace(status_code=403, headers={}, content=b"")
        parsed = {"Error": {"Code": code, "Message": "Access Denied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
        return http, parsed

    seeder.s3.meta.events.register(f"before-call.s3.{operation}", deny)
    return denied


def objects(s3: Any, bucket: str = BUCKET) -> dict[str, tuple[str, bytes]]:
    """{key: (ContentType, body)} for everything in the bucket."""
    found = {}
    for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        got = s3.get_object(Bucket=bucket, Key=item["Key"])
        found[item["Key"]] = (got["ContentType"], got["Body"].read())
    return found


def images(s3: Any, bucket: str = BUCKET) -> dict[str, tuple[str, bytes]]:
    """objects() without the seeder's manifest."""
    return {k: v for k, v in objects(s3, bucket).items() if not k.startswith("seeder/")}


def image_keys(s3: Any, bucket: str = BUCKET) -> set[str]:
    """The keys of images(), from the listing alone (images() also reads every object: a call each)."""
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"] for item in listed if not item["Key"].startswith("seeder/")}


def manifest(s3: Any, bucket: str = BUCKET) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key="seeder/manifest.json")["Body"].read())


def assert_samples_stored(s3: Any, keys: list[str]) -> None:
    stored = objects(s3)
    assert len(keys) == len(SAMPLE_FILES)
    for path, key in zip(SAMPLE_FILES, keys, strict=True):
        assert key == f"samples/{path.name}"
        assert stored[key] == (CONTENT_TYPES[path.suffix], path.read_bytes())
