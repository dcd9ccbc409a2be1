"""image_seeder: both Bedrock request schemas, fallback to the bundled samples, idempotence, never raising.

S3 is moto; Bedrock is stubbed on the handler's own client (moto answers InvokeModel with an empty body).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import struct
import zlib
from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from conftest import ROOT, load_handler

BUCKET = "seed-bucket"
STABILITY = "stability.stable-image-core-v1:1"
SAMPLES = ROOT / "functions" / "image_seeder" / "samples"
SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".png", ".jpg", ".jpeg"))
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


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


def aws_error(code: str, operation: str = "InvokeModel") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} for the test"}}, operation)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("BUCKET_NAME", BUCKET)
    monkeypatch.setenv("MODEL_ID", STABILITY)
    monkeypatch.setenv("IMAGE_COUNT", "5")
    return monkeypatch


@pytest.fixture
def s3(aws_mock, env):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    return client


@pytest.fixture
def seeder(s3):
    return load_handler("image_seeder")


@pytest.fixture
def bedrock(seeder):
    """Stubber on the handler's Bedrock client, plus the (modelId, body) of every InvokeModel it attempts."""
    sent: list[tuple[str, dict]] = []

    def record(params, **_):
        sent.append((params["modelId"], json.loads(params["body"])))

    seeder.bedrock.meta.events.register("before-parameter-build.bedrock-runtime.InvokeModel", record)
    with Stubber(seeder.bedrock) as stubber:
        stubber.sent = sent
        yield stubber


def objects(s3) -> dict[str, tuple[str, bytes]]:
    """{key: (ContentType, body)} for everything in the bucket."""
    found = {}
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        got = s3.get_object(Bucket=BUCKET, Key=item["Key"])
        found[item["Key"]] = (got["ContentType"], got["Body"].read())
    return found


def assert_samples_stored(s3, keys: list[str]) -> None:
    stored = objects(s3)
    assert len(keys) == len(SAMPLE_FILES)
    for path, key in zip(SAMPLE_FILES, keys, strict=True):
        assert key == f"samples/{path.name}"
        assert stored[key] == (CONTENT_TYPES[path.suffix], path.read_bytes())


# ------------------------------------------------------------------------------------ Stability
@pytest.mark.parametrize(
    ("make", "extension", "content_type"), [(fake_jpeg, ".jpg", "image/jpeg"), (fake_png, ".png", "image/png")]
)
def test_stability_one_call_per_image_stored_by_detected_format(
    seeder, bedrock, s3, env, make, extension, content_type
):
    env.setenv("IMAGE_COUNT", "3")
    images = [make(f"dog-{i}") for i in range(3)]
    for image in images:
        bedrock.add_response("invoke_model", stability_answer(image))

    result = seeder.handler({}, None)

    bedrock.assert_no_pending_responses()
    assert result["status"] == "generated"
    assert result["model"] == STABILITY
    assert [model for model, _ in bedrock.sent] == [STABILITY] * 3
    for _, body in bedrock.sent:
        assert set(body) == {"prompt", "output_format", "aspect_ratio"}
        assert body["output_format"] == "jpeg"
        assert body["aspect_ratio"] == "1:1"
        assert "sunglasses" in body["prompt"]
    assert len({body["prompt"] for _, body in bedrock.sent}) == 3  # varied prompts
    stored = objects(s3)
    assert sorted(stored) == sorted(result["keys"])
    for key, image in zip(result["keys"], images, strict=True):
        assert key.startswith("generated/") and key.endswith(extension)
        assert stored[key] == (content_type, image)


# ------------------------------------------------------------------------------------ Titan / Nova
@pytest.mark.parametrize("model_id", ["amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0"])
def test_titan_and_nova_batch_five_per_call_and_store_png(seeder, bedrock, s3, env, model_id):
    env.setenv("MODEL_ID", model_id)
    env.setenv("IMAGE_COUNT", "7")
    images = [fake_png(f"dog-{i}") for i in range(7)]
    bedrock.add_response("invoke_model", titan_answer(images[:5]))
    bedrock.add_response("invoke_model", titan_answer(images[5:]))

    result = seeder.handler({}, None)

    bedrock.assert_no_pending_responses()
    assert result["status"] == "generated"
    assert [model for model, _ in bedrock.sent] == [model_id, model_id]
    for (_, body), expected_n in zip(bedrock.sent, [5, 2], strict=True):
        assert set(body) == {"taskType", "textToImageParams", "imageGenerationConfig"}
        assert body["taskType"] == "TEXT_IMAGE"
        assert set(body["textToImageParams"]) == {"text"}
        assert "sunglasses" in body["textToImageParams"]["text"]
        config = dict(body["imageGenerationConfig"])
        assert config.pop("seed") in range(0, 858993460)  # Nova Canvas' seed range, the narrower one
        assert config == {"numberOfImages": expected_n, "height": 512, "width": 512, "cfgScale": 8.0}
    stored = objects(s3)
    assert len(result["keys"]) == 7
    for key, image in zip(result["keys"], images, strict=True):
        assert key.endswith(".png")
        assert stored[key] == ("image/png", image)


def test_never_stores_more_than_image_count(seeder, bedrock, s3, env):
    env.setenv("MODEL_ID", "amazon.nova-canvas-v1:0")
    env.setenv("IMAGE_COUNT", "2")
    bedrock.add_response("invoke_model", titan_answer([fake_png(f"dog-{i}") for i in range(3)]))

    result = seeder.handler({}, None)

    assert len(result["keys"]) == 2
    assert len(objects(s3)) == 2


def test_generated_keys_are_deterministic_and_distinct(seeder, bedrock, env):
    env.setenv("IMAGE_COUNT", "2")
    bedrock.add_response("invoke_model", stability_answer(fake_jpeg("a")))
    bedrock.add_response("invoke_model", stability_answer(fake_jpeg("b")))

    keys = seeder.handler({}, None)["keys"]

    assert keys[0].startswith("generated/01-") and keys[1].startswith("generated/02-")
    assert keys[0] != keys[1]


# ------------------------------------------------------------------------------------ fallback
@pytest.mark.parametrize(
    "code",
    [
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ThrottlingException",
        "ModelTimeoutException",
        "ServiceUnavailableException",
    ],
)
def test_bedrock_error_uploads_samples_and_reports_the_code(seeder, bedrock, s3, caplog, code):
    bedrock.add_client_error("invoke_model", service_error_code=code, service_message="no", http_status_code=400)

    with caplog.at_level(logging.INFO):
        result = seeder.handler({}, None)

    assert result["status"] == "fallback"
    assert result["reason"] == code
    assert result["model"] == STABILITY
    assert result["generatedKeys"] == []
    assert result["keys"] == result["sampleKeys"]
    assert len(bedrock.sent) == 1  # no second attempt after a failure
    assert_samples_stored(s3, result["keys"])
    assert sorted(objects(s3)) == sorted(result["keys"])
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert (warning.error_code, warning.operation, warning.model) == (code, "InvokeModel", STABILITY)


def test_region_without_bedrock_endpoint_falls_back(seeder, s3, env):
    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url="https://bedrock-runtime.xx-nowhere-1.amazonaws.com/")

    env.setattr(seeder.bedrock, "invoke_model", unreachable)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "EndpointConnectionError")
    assert_samples_stored(s3, result["keys"])


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>not json</html>", "InvalidResponse"),
        (b"[1, 2]", "InvalidResponse"),
        ({"images": []}, "NoImagesInResponse"),
        ({"seeds": [1]}, "NoImagesInResponse"),
        (
            {"finish_reasons": ["Filter reason: prompt"], "images": [base64.b64encode(fake_jpeg("x")).decode()]},
            "ContentFiltered",
        ),
        ({"images": [], "error": "This request has been blocked by our content filters."}, "ModelError"),
        ({"images": ["not base64 !!"]}, "InvalidResponse"),
        ({"images": [base64.b64encode(b"RIFF....WEBPVP8 ").decode()]}, "UnsupportedImageFormat"),
    ],
)
def test_answer_without_usable_images_falls_back(seeder, bedrock, s3, body, reason):
    bedrock.add_response("invoke_model", answer(body))

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", reason)
    assert_samples_stored(s3, result["keys"])


def test_unknown_model_family_falls_back_without_calling_bedrock(seeder, bedrock, s3, env):
    env.setenv("MODEL_ID", "meta.llama3-8b-instruct-v1:0")

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "UnsupportedModel")
    assert bedrock.sent == []
    assert_samples_stored(s3, result["keys"])


def test_images_generated_before_a_failure_are_kept_and_topped_up_with_samples(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "3")
    first = fake_jpeg("first")
    bedrock.add_response("invoke_model", stability_answer(first))
    bedrock.add_client_error("invoke_model", service_error_code="ThrottlingException", http_status_code=429)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "ThrottlingException")
    assert len(bedrock.sent) == 2  # stops at the first failure instead of trying the third image
    assert len(result["generatedKeys"]) == 1
    assert objects(s3)[result["generatedKeys"][0]] == ("image/jpeg", first)
    assert result["keys"] == result["generatedKeys"] + result["sampleKeys"]
    assert_samples_stored(s3, result["sampleKeys"])


def test_no_model_call_when_too_little_time_is_left(seeder, bedrock, s3):
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)

    result = seeder.handler({}, context)

    assert (result["status"], result["reason"]) == ("fallback", "OutOfTime")
    assert bedrock.sent == []
    assert_samples_stored(s3, result["keys"])


def test_calls_model_when_time_is_left(seeder, bedrock, env):
    env.setenv("IMAGE_COUNT", "1")
    bedrock.add_response("invoke_model", stability_answer(fake_jpeg("x")))
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 299_000)

    assert seeder.handler({}, context)["status"] == "generated"


# ------------------------------------------------------------------------------------ idempotence
def test_second_invocation_does_nothing(seeder, bedrock, s3):
    bedrock.add_client_error("invoke_model", service_error_code="ValidationException", http_status_code=400)
    first = seeder.handler({}, None)
    before = objects(s3)
    sent_before = len(bedrock.sent)

    second = seeder.handler({}, None)  # the Stubber has no answer left: a Bedrock call would not succeed

    assert first["status"] == "fallback"
    assert second["status"] == "skipped"
    assert second["keys"] == []
    assert second["existingKey"] in first["keys"]
    assert len(bedrock.sent) == sent_before
    assert objects(s3) == before


def test_existing_image_skips_but_other_objects_do_not(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "1")
    s3.put_object(Bucket=BUCKET, Key="notes/readme.txt", Body=b"not an image")
    bedrock.add_response("invoke_model", stability_answer(fake_jpeg("x")))
    assert seeder.handler({}, None)["status"] == "generated"

    s3.put_object(Bucket=BUCKET, Key="old/Photo.JPEG", Body=fake_jpeg("old"))
    assert seeder.handler({}, None)["status"] == "skipped"


def test_delete_event_does_nothing(seeder, bedrock, s3):
    result = seeder.handler({"tf": {"action": "delete", "prev_input": {}}}, None)

    assert result["status"] == "skipped"
    assert bedrock.sent == []
    assert objects(s3) == {}


# ------------------------------------------------------------------------------------ never raises
def test_missing_bucket_reports_failed_with_code(aws_mock, env, caplog):
    seeder = load_handler("image_seeder")  # no bucket created

    with caplog.at_level(logging.INFO):
        result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert (result["code"], result["operation"]) == ("NoSuchBucket", "ListObjectsV2")
    assert BUCKET in result["error"]
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert (error.error_code, error.operation, error.bucket) == ("NoSuchBucket", "ListObjectsV2", BUCKET)


def test_denied_write_reports_failed_with_code(seeder, bedrock, s3, env):
    def denied(**_):
        raise aws_error("AccessDenied", "PutObject")

    env.setattr(seeder.s3, "put_object", denied)
    bedrock.add_client_error("invoke_model", service_error_code="AccessDeniedException", http_status_code=403)

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert (result["code"], result["operation"]) == ("AccessDenied", "PutObject")
    assert result["keys"] == []


def test_unexpected_error_is_reported_not_raised(seeder, bedrock, env, tmp_path):
    env.setattr(seeder, "SAMPLES_DIR", tmp_path)  # nothing to fall back to
    bedrock.add_client_error("invoke_model", service_error_code="ValidationException", http_status_code=400)

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert "no sample images" in result["error"]


def test_only_real_images_from_the_samples_folder_are_uploaded(seeder, bedrock, s3, env, tmp_path):
    (tmp_path / "a.png").write_bytes(fake_png("a"))
    (tmp_path / "b.jpeg").write_bytes(fake_jpeg("b"))
    (tmp_path / "notes.txt").write_bytes(b"not an image")
    env.setattr(seeder, "SAMPLES_DIR", tmp_path)
    bedrock.add_client_error("invoke_model", service_error_code="ValidationException", http_status_code=400)

    result = seeder.handler({}, None)

    assert result["status"] == "fallback"
    assert result["keys"] == ["samples/a.png", "samples/b.jpg"]
    assert objects(s3) == {
        "samples/a.png": ("image/png", fake_png("a")),
        "samples/b.jpg": ("image/jpeg", fake_jpeg("b")),
    }


def test_missing_bucket_name_is_reported(aws_mock, env):
    env.delenv("BUCKET_NAME")
    seeder = load_handler("image_seeder")

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert "BUCKET_NAME" in result["error"]


def test_non_object_event_is_ignored(seeder, bedrock, env):
    env.setenv("IMAGE_COUNT", "1")
    bedrock.add_response("invoke_model", stability_answer(fake_png("x")))

    assert seeder.handler("not-a-dict", None)["status"] == "generated"


@pytest.fixture(scope="module")
def pure():
    """The handler module for its pure helpers (creating clients makes no AWS call)."""
    return load_handler("image_seeder")


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, 5), ("", 5), ("7", 7), ("20", 20), ("0", 5), ("21", 5), ("abc", 5)]
)
def test_image_count_parsing(pure, raw, expected):
    assert pure.parse_image_count(raw) == expected


# ------------------------------------------------------------------------------------ bundled samples
def _png_pixels_ok(data: bytes) -> bool:
    """Walks every chunk (CRC checked); IHDR first, IEND last, IDAT inflates to the declared size."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks, idat = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        chunks.append(kind)
        idat += body if kind == b"IDAT" else b""
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        pos += 12 + length
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND" and pos == len(data)
    assert (depth, colour) == (8, 2)
    return 64 <= width <= 256 and len(zlib.decompress(idat)) == height * (1 + 3 * width)


def _jpeg_structure_ok(data: bytes) -> bool:
    """SOI, well-formed segments up to SOS (with baseline SOF0, DQT and DHT), EOI at the very end."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
    pos, markers = 2, []
    while True:
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        markers.append(marker)
        if marker == 0xC0:
            _, height, width, components = struct.unpack(">BHHB", data[pos + 4 : pos + 10])
        pos += 2 + length
        if marker == 0xDA:
            break
    assert {0xE0, 0xDB, 0xC4, 0xC0} <= set(markers)
    scan = data[pos:-2]
    assert b"\xff\xd9" not in scan  # entropy-coded data is byte-stuffed: no stray marker inside
    return 64 <= width <= 256 and 64 <= height <= 256 and components == 3


def test_bundled_samples_are_valid_small_png_and_jpeg():
    suffixes = {p.suffix for p in SAMPLE_FILES}
    assert {".png", ".jpg"} <= suffixes
    assert sum(p.stat().st_size for p in SAMPLE_FILES) < 300 * 1024
    for path in SAMPLE_FILES:
        data = path.read_bytes()
        ok = _png_pixels_ok(data) if path.suffix == ".png" else _jpeg_structure_ok(data)
        assert ok, path.name


def test_samples_folder_holds_only_what_the_function_needs():
    # The whole functions/image_seeder folder is the Lambda package.
    assert sorted(p.name for p in SAMPLES.iterdir()) == [p.name for p in SAMPLE_FILES]
