"""image_seeder: both Bedrock request schemas, concurrency, fallback to the bundled samples, any event, failures.

S3 is moto; Bedrock is a thread-safe fake on the handler's module (moto answers InvokeModel with an empty
body). The manifest and replacement are in test_image_seeder_manifest.py, the IAM retry window and the
Marketplace steps in test_image_seeder_access.py.
"""

from __future__ import annotations

import base64
import json
import logging
import struct
import threading
import time
import zlib
from types import SimpleNamespace

import pytest
from botocore.exceptions import EndpointConnectionError
from conftest import load_handler
from seeder_fixtures import (
    BUCKET,
    SAMPLE_FILES,
    SAMPLES,
    STABILITY,
    answer,
    assert_samples_stored,
    aws_error,
    default_answer,
    fake_jpeg,
    fake_png,
    image_for,
    image_keys,
    images,
    objects,
    titan_answer,
)


# ------------------------------------------------------------------------------------ Stability
def test_stability_one_call_per_image_keys_in_prompt_order(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "3")

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert result["model"] == STABILITY
    assert [model for model, _ in bedrock.sent] == [STABILITY] * 3
    for _, body in bedrock.sent:
        assert set(body) == {"prompt", "output_format", "aspect_ratio"}
        assert body["output_format"] == "jpeg"
        assert body["aspect_ratio"] == "1:1"
        assert "sunglasses" in body["prompt"]
    prompts = sorted((body["prompt"] for _, body in bedrock.sent), key=lambda p: seeder_prompts(seeder).index(p))
    assert len(set(prompts)) == 3  # varied prompts
    stored = images(s3)
    assert sorted(stored) == sorted(result["keys"])
    for i, (key, prompt) in enumerate(zip(result["keys"], prompts, strict=True)):
        # The key's number is the prompt's index, whatever order the concurrent calls finished in.
        assert key.startswith(f"generated/{i + 1:02d}-") and key.endswith(".jpg")
        assert stored[key] == ("image/jpeg", fake_jpeg(prompt))


def seeder_prompts(seeder) -> list[str]:
    bedrock_module = __import__("sys").modules["seed_bedrock"]
    return [bedrock_module.prompt(i) for i in range(20)]


def test_png_answers_are_stored_as_png(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "2")
    bedrock.respond = lambda model, body: stability_png(body)

    result = seeder.handler({}, None)

    assert [k[-4:] for k in result["keys"]] == [".png", ".png"]
    stored = images(s3)
    assert {stored[k][0] for k in result["keys"]} == {"image/png"}


def stability_png(body: dict) -> dict:
    return answer({"finish_reasons": [None], "images": [base64.b64encode(fake_png(body["prompt"])).decode()]})


# ------------------------------------------------------------------------------------ Titan / Nova
@pytest.mark.parametrize("model_id", ["amazon.titan-image-generator-v2:0", "amazon.nova-canvas-v1:0"])
def test_titan_and_nova_batch_five_per_call_and_store_png(seeder, bedrock, s3, env, model_id):
    env.setenv("MODEL_ID", model_id)
    env.setenv("IMAGE_COUNT", "7")

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert [model for model, _ in bedrock.sent] == [model_id, model_id]
    bodies = sorted((body for _, body in bedrock.sent), key=lambda b: b["imageGenerationConfig"]["seed"])
    for body, expected_n in zip(bodies, [5, 2], strict=True):
        assert set(body) == {"taskType", "textToImageParams", "imageGenerationConfig"}
        assert body["taskType"] == "TEXT_IMAGE"
        assert set(body["textToImageParams"]) == {"text"}
        assert "sunglasses" in body["textToImageParams"]["text"]
        config = dict(body["imageGenerationConfig"])
        assert config.pop("seed") in range(0, 858993460)  # Nova Canvas' seed range, the narrower one
        assert config == {"numberOfImages": expected_n, "height": 512, "width": 512, "cfgScale": 8.0}
    expected = [image_for(bodies[0], i) for i in range(5)] + [image_for(bodies[1], i) for i in range(2)]
    stored = images(s3)
    assert len(result["keys"]) == 7
    for i, (key, image) in enumerate(zip(result["keys"], expected, strict=True)):
        assert key.startswith(f"generated/{i + 1:02d}-") and key.endswith(".png")
        assert stored[key] == ("image/png", image)


def test_never_stores_more_than_image_count(seeder, bedrock, s3, env):
    env.setenv("MODEL_ID", "amazon.nova-canvas-v1:0")
    env.setenv("IMAGE_COUNT", "2")
    bedrock.respond = lambda model, body: titan_answer([fake_png(f"dog-{i}") for i in range(3)])

    result = seeder.handler({}, None)

    assert len(result["keys"]) == 2
    assert len(image_keys(s3)) == 2


def test_generated_keys_are_deterministic_and_distinct(seeder, bedrock, env):
    env.setenv("IMAGE_COUNT", "2")

    keys = seeder.handler({}, None)["keys"]

    assert keys[0].startswith("generated/01-") and keys[1].startswith("generated/02-")
    assert keys[0] != keys[1]


# ------------------------------------------------------------------------------------ concurrency
def test_calls_after_the_first_run_concurrently(seeder, bedrock, s3, env):
    """The first call runs alone; the four others must all be in flight at once to pass the barrier."""
    env.setenv("IMAGE_COUNT", "5")
    barrier = threading.Barrier(4, timeout=5)
    calls = []

    def respond(model, body):
        calls.append(body["prompt"])
        if len(calls) > 1:
            barrier.wait()  # a sequential seeder would wait here until the timeout breaks the barrier
        return default_answer(model, body)

    bedrock.respond = respond

    result = seeder.handler({}, None)

    assert result["status"] == "generated", result
    assert len(result["keys"]) == 5


def test_concurrency_is_bounded(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "16")
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def respond(model, body):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        return default_answer(model, body)

    bedrock.respond = respond

    result = seeder.handler({}, None)

    assert len(result["keys"]) == 16
    assert peak[0] == seeder.MAX_WORKERS == 5


# ------------------------------------------------------------------------------------ fallback
@pytest.mark.parametrize(
    "code",
    [
        "ValidationException",
        "ResourceNotFoundException",
        "ThrottlingException",
        "ModelTimeoutException",
        "ServiceUnavailableException",
    ],
)
def test_bedrock_error_uploads_samples_and_reports_the_code(seeder, bedrock, s3, caplog, code, fake_clock):
    def fail(model, body):
        raise aws_error(code)

    bedrock.respond = fail

    with caplog.at_level(logging.INFO):
        result = seeder.handler({}, None)

    assert result["status"] == "fallback"
    assert result["reason"] == code
    assert result["model"] == STABILITY
    assert result["generatedKeys"] == []
    assert result["keys"] == result["sampleKeys"]
    assert len(bedrock.sent) == 1  # the first call fails alone: no other call is made
    assert fake_clock.sleeps == []  # only AccessDenied is waited out
    assert_samples_stored(s3, result["keys"])
    assert sorted(image_keys(s3)) == sorted(result["keys"])
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    assert (warning.error_code, warning.operation, warning.model) == (code, "InvokeModel", STABILITY)


def test_region_without_bedrock_endpoint_falls_back(seeder, bedrock, s3):
    def unreachable(model, body):
        raise EndpointConnectionError(endpoint_url="https://bedrock-runtime.xx-nowhere-1.amazonaws.com/")

    bedrock.respond = unreachable

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
    bedrock.respond = lambda model, request: answer(body)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", reason)
    assert_samples_stored(s3, result["keys"])


# ------------------------------------------------------------------------------------ image size
def api_response_bytes(image_size: int) -> int:
    """Size of the image API's proxy response for an image of `image_size` bytes, with every header it sends."""
    headers = {
        "Content-Type": "image/jpeg",
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    body = "A" * (4 * -(-image_size // 3))  # base64 length of image_size bytes
    return len(json.dumps({"statusCode": 200, "headers": headers, "body": body, "isBase64Encoded": True}))


def test_largest_accepted_image_fits_a_lambda_proxy_response(seeder):
    bedrock_module = __import__("sys").modules["seed_bedrock"]
    limit = bedrock_module.MAX_IMAGE_BYTES
    assert api_response_bytes(limit) <= 6 * 1024 * 1024 == bedrock_module.LAMBDA_RESPONSE_LIMIT
    assert limit > 4_500_000  # still "about 4.5 MB": the margin is the envelope, not a guess


def test_image_over_the_limit_is_refused_and_falls_back(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "2")
    limit = __import__("sys").modules["seed_bedrock"].MAX_IMAGE_BYTES

    def respond(model, body):
        size = limit + 1 if "dachshund" in body["prompt"] else limit  # the second prompt's image is too large
        return stability_answer_sized(size)

    bedrock.respond = respond

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "ImageTooLarge")
    assert str(limit) in result["detail"]
    assert len(result["generatedKeys"]) == 1  # the one at the limit exactly is kept
    stored = images(s3)
    assert len(stored[result["generatedKeys"][0]][1]) == limit
    assert all(len(data) <= limit for _, data in stored.values())


def stability_answer_sized(size: int) -> dict:
    image = fake_jpeg("big") + bytes(size - len(fake_jpeg("big")))
    return answer({"finish_reasons": [None], "images": [base64.b64encode(image).decode()]})


def test_unknown_model_family_falls_back_without_calling_bedrock(seeder, bedrock, s3, env):
    env.setenv("MODEL_ID", "meta.llama3-8b-instruct-v1:0")

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "UnsupportedModel")
    assert bedrock.sent == []
    assert_samples_stored(s3, result["keys"])


def test_images_generated_before_a_failure_are_kept_and_topped_up_with_samples(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "3")

    third_sent = threading.Event()

    def respond(model, body):
        if "husky" in body["prompt"]:
            third_sent.set()
        if "dachshund" in body["prompt"]:  # the second image's prompt fails once the third is under way
            third_sent.wait(timeout=5)
            raise aws_error("ThrottlingException")
        return default_answer(model, body)

    bedrock.respond = respond

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "ThrottlingException")
    assert len(bedrock.sent) == 3
    # Numbered by prompt, so the failed second image leaves a gap rather than renumbering the third.
    assert [k[:13] for k in result["generatedKeys"]] == ["generated/01-", "generated/03-"]
    assert images(s3)[result["generatedKeys"][0]] == ("image/jpeg", image_for(bedrock.sent[0][1]))
    assert result["keys"] == result["generatedKeys"] + result["sampleKeys"]
    assert_samples_stored(s3, result["sampleKeys"])


def test_calls_not_started_after_a_failure_are_not_made(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "20")

    def respond(model, body):
        if len(bedrock.sent) > 1:
            time.sleep(0.01)  # let the failure be seen before the queue drains
            raise aws_error("ThrottlingException")
        return default_answer(model, body)

    bedrock.respond = respond

    result = seeder.handler({}, None)

    assert result["reason"] == "ThrottlingException"
    assert len(bedrock.sent) < 20


def test_no_model_call_when_too_little_time_is_left(seeder, bedrock, s3):
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000)

    result = seeder.handler({}, context)

    assert (result["status"], result["reason"]) == ("fallback", "OutOfTime")
    assert bedrock.sent == []
    assert_samples_stored(s3, result["keys"])


def test_calls_model_when_time_is_left(seeder, bedrock, env):
    env.setenv("IMAGE_COUNT", "1")
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 299_000)

    assert seeder.handler({}, context)["status"] == "generated"


# ------------------------------------------------------------------------------------ any event
@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        [{"tf": {"action": "delete"}}],
        "not-a-dict",
        42,
        {"tf": "x"},
        {"tf": None},
        {"tf": {"action": 5}},
        {"tf": ["delete"]},
        {"reason": "deploy"},
        {"unexpected": {"nested": [1, 2]}, "force": "yes"},
    ],
)
def test_any_event_seeds_and_never_raises(seeder, bedrock, s3, env, event):
    env.setenv("IMAGE_COUNT", "1")

    result = seeder.handler(event, None)

    assert result["status"] == "generated", result
    assert len(image_keys(s3)) == 1


def test_delete_event_does_nothing(seeder, bedrock, s3):
    result = seeder.handler({"tf": {"action": "delete", "prev_input": {}}}, None)

    assert result["status"] == "skipped"
    assert bedrock.sent == []
    assert objects(s3) == {}


# ------------------------------------------------------------------------------------ never raises
def test_missing_bucket_reports_failed_with_code(aws_reset, env, caplog):
    seeder = load_handler("image_seeder")  # no bucket created

    with caplog.at_level(logging.INFO):
        result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert (result["code"], result["operation"]) == ("NoSuchBucket", "GetObject")
    assert BUCKET in result["error"]
    error = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert (error.error_code, error.operation, error.bucket) == ("NoSuchBucket", "GetObject", BUCKET)


def test_denied_write_reports_failed_with_code(seeder, bedrock, s3, env):
    def denied(**_):
        raise aws_error("AccessDenied", "PutObject")

    env.setattr(seeder.s3, "put_object", denied)

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert (result["code"], result["operation"]) == ("AccessDenied", "PutObject")
    assert result["keys"] == []


def test_unexpected_error_is_reported_not_raised(seeder, bedrock, env, tmp_path):
    env.setattr(seeder, "SAMPLES_DIR", tmp_path)  # nothing to fall back to
    bedrock.respond = lambda model, body: (_ for _ in ()).throw(aws_error("ValidationException"))

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert "no sample images" in result["error"]


def test_only_real_images_from_the_samples_folder_are_uploaded(seeder, bedrock, s3, env, tmp_path):
    (tmp_path / "a.png").write_bytes(fake_png("a"))
    (tmp_path / "b.jpeg").write_bytes(fake_jpeg("b"))
    (tmp_path / "notes.txt").write_bytes(b"not an image")
    env.setattr(seeder, "SAMPLES_DIR", tmp_path)
    bedrock.respond = lambda model, body: (_ for _ in ()).throw(aws_error("ValidationException"))

    result = seeder.handler({}, None)

    assert result["status"] == "fallback"
    assert result["keys"] == ["samples/a.png", "samples/b.jpg"]
    assert images(s3) == {
        "samples/a.png": ("image/png", fake_png("a")),
        "samples/b.jpg": ("image/jpeg", fake_jpeg("b")),
    }


def test_missing_bucket_name_is_reported(aws_reset, env):
    env.delenv("BUCKET_NAME")
    seeder = load_handler("image_seeder")

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert "BUCKET_NAME" in result["error"]


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
