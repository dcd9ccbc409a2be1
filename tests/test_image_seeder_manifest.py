"""image_seeder's manifest: idempotence, replacing only what it wrote, no-manifest buckets, a replaced bucket."""

from __future__ import annotations

import json

import pytest
from conftest import load_handler
from seeder_fixtures import (
    BUCKET,
    NOW,
    STABILITY,
    aws_error,
    create_bucket,
    deny_s3,
    fake_jpeg,
    image_keys,
    images,
    manifest,
    objects,
)

OTHER_MODEL = "amazon.nova-canvas-v1:0"


def test_manifest_records_model_count_keys_and_time(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "2")

    result = seeder.handler({}, None)

    assert manifest(s3) == {
        "version": 1,
        "model": STABILITY,
        "count": 2,
        "status": "generated",
        "keys": result["keys"],
        "staleKeys": [],
        "seededAt": NOW,
    }
    assert objects(s3)["seeder/manifest.json"][0] == "application/json"


def test_fallback_is_recorded_with_the_sample_keys(seeder, bedrock, s3):
    bedrock.respond = lambda model, body: (_ for _ in ()).throw(aws_error("ValidationException"))

    result = seeder.handler({}, None)

    assert (manifest(s3)["status"], manifest(s3)["keys"]) == ("fallback", result["keys"])


def test_second_invocation_does_nothing(seeder, bedrock, s3):
    first = seeder.handler({}, None)
    before = objects(s3)
    calls = len(bedrock.sent)

    second = seeder.handler({}, None)

    assert first["status"] == "generated"
    assert second["status"] == "skipped"
    assert second["keys"] == []
    assert second["recordedKeys"] == first["keys"]
    assert STABILITY in second["reason"] and NOW in second["reason"]
    assert len(bedrock.sent) == calls
    assert objects(s3) == before


def test_skip_ignores_objects_it_did_not_write(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "1")
    s3.put_object(Bucket=BUCKET, Key="notes/readme.txt", Body=b"not an image")
    assert seeder.handler({}, None)["status"] == "generated"

    s3.put_object(Bucket=BUCKET, Key="old/Photo.JPEG", Body=fake_jpeg("old"))
    assert seeder.handler({}, None)["status"] == "skipped"


@pytest.mark.parametrize(("variable", "value"), [("MODEL_ID", OTHER_MODEL), ("IMAGE_COUNT", "3")])
def test_another_model_or_count_replaces_only_what_it_wrote(seeder, bedrock, s3, env, variable, value):
    env.setenv("IMAGE_COUNT", "2")
    first = seeder.handler({}, None)
    theirs = {"generated/mine.jpg": fake_jpeg("user upload"), "photos/cat.jpg": fake_jpeg("cat")}
    for key, body in theirs.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="image/jpeg")
    env.setenv(variable, value)

    second = seeder.handler({}, None)

    assert second["status"] == "generated"
    assert second["why"].startswith(("model changed", "count changed"))
    # Same prompts give the fake model the same images, so a larger count reuses the first keys.
    replaced = [k for k in first["keys"] if k not in second["keys"]]
    assert replaced == (first["keys"] if variable == "MODEL_ID" else [])
    assert second.get("replacedKeys", []) == replaced
    stored = images(s3)
    assert not set(replaced) & set(stored)  # the old set is gone
    assert set(second["keys"]) <= set(stored)
    assert {k: stored[k][1] for k in theirs} == theirs  # never touched what it did not write
    assert set(stored) == set(second["keys"]) | set(theirs)
    recorded = manifest(s3)
    assert (recorded["keys"], recorded["staleKeys"]) == (second["keys"], [])
    assert (recorded["model"], recorded["count"]) == (
        OTHER_MODEL if variable == "MODEL_ID" else STABILITY,
        3 if variable == "IMAGE_COUNT" else 2,
    )


def test_keys_reused_by_the_new_set_are_not_deleted(seeder, bedrock, s3, env):
    bedrock.respond = lambda model, body: (_ for _ in ()).throw(aws_error("ValidationException"))
    first = seeder.handler({}, None)  # samples
    env.setenv("IMAGE_COUNT", "3")

    second = seeder.handler({}, None)  # samples again, same keys

    assert second["keys"] == first["keys"]
    assert "replacedKeys" not in second
    assert image_keys(s3) == set(first["keys"])


def test_missing_recorded_images_are_seeded_again(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "2")
    first = seeder.handler({}, None)
    s3.delete_object(Bucket=BUCKET, Key=first["keys"][0])  # someone emptied part of the bucket

    second = seeder.handler({}, None)

    assert second["status"] == "generated"
    assert second["why"] == "1 recorded images missing"
    assert image_keys(s3) == set(second["keys"])


def test_force_event_reseeds_with_the_same_model_and_count(seeder, bedrock, s3, env):
    env.setenv("IMAGE_COUNT", "1")
    seeder.handler({}, None)

    again = seeder.handler({"force": True}, None)

    assert (again["status"], again["why"]) == ("generated", "forced")
    assert len(bedrock.sent) == 2


def test_no_manifest_keeps_existing_images_and_adds_a_recorded_set(seeder, bedrock, s3, env):
    """A bucket seeded by the earlier seeder (no manifest) or by hand: nothing proves the seeder wrote those."""
    env.setenv("IMAGE_COUNT", "2")
    earlier = {
        "generated/01-0123456789ab.jpg": fake_jpeg("earlier seeder"),
        "samples/dog-sunglasses-1.png": b"\x89PNG\r\n\x1a\nold sample",
        "uploads/mine.jpg": fake_jpeg("mine"),
    }
    for key, body in earlier.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert result["why"] == "no manifest; 2 unrecorded objects kept"
    stored = images(s3)
    assert {k: stored[k][1] for k in earlier} == earlier
    assert set(stored) == set(earlier) | set(result["keys"])
    assert manifest(s3)["keys"] == result["keys"]

    env.setenv("MODEL_ID", OTHER_MODEL)  # a later change replaces the recorded set only
    later = seeder.handler({}, None)
    stored = images(s3)
    assert {k: stored[k][1] for k in earlier} == earlier
    assert set(stored) == set(earlier) | set(later["keys"])


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        json.dumps({"model": STABILITY, "count": 5, "keys": ["photos/cat.jpg"]}).encode(),
        json.dumps({"model": STABILITY, "count": 5, "keys": ["generated/a.jpg"], "staleKeys": ["x/y.jpg"]}).encode(),
        json.dumps({"model": 5, "count": "5", "keys": []}).encode(),
    ],
)
def test_a_manifest_it_did_not_write_is_ignored_and_nothing_it_lists_deleted(seeder, bedrock, s3, content):
    for key in ("photos/cat.jpg", "generated/a.jpg", "x/y.jpg"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=fake_jpeg(key))
    s3.put_object(Bucket=BUCKET, Key="seeder/manifest.json", Body=content)

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert result["why"].startswith("no manifest")
    assert {"photos/cat.jpg", "generated/a.jpg", "x/y.jpg"} <= image_keys(s3)


def test_a_delete_that_fails_is_recorded_and_retried_by_the_next_run(seeder, bedrock, s3, env, fake_clock):
    env.setenv("IMAGE_COUNT", "1")
    first = seeder.handler({}, None)
    env.setenv("MODEL_ID", OTHER_MODEL)
    denials = deny_s3(seeder, "DeleteObject")

    second = seeder.handler({}, None)

    assert second["status"] == "generated"  # the new set is in place; the old image is only left over
    assert second["staleKeys"] == first["keys"] and second["replacedKeys"] == []
    assert denials[0] > 1 and sum(fake_clock.sleeps) == pytest.approx(75)  # waited out IAM first
    assert manifest(s3)["staleKeys"] == first["keys"]

    third = cold_start(seeder, env).handler({}, None)  # a new container: its S3 client is no longer denied

    assert third["status"] == "skipped"
    assert third["replacedKeys"] == first["keys"]
    assert manifest(s3)["staleKeys"] == []
    assert image_keys(s3) == set(second["keys"])


def cold_start(seeder, env):
    """A fresh handler module with the same injected time and fake Bedrock."""
    fresh = load_handler("image_seeder")
    for name in ("sleep", "clock", "utc_now", "bedrock"):
        env.setattr(fresh, name, getattr(seeder, name))
    return fresh


def test_a_replaced_bucket_is_seeded(seeder, bedrock, s3, env):
    """A new bucket (the component puts its name in the Invocation's triggers) has no manifest: seeded."""
    env.setenv("IMAGE_COUNT", "2")
    assert seeder.handler({}, None)["status"] == "generated"
    create_bucket(s3, "seed-bucket-2")
    env.setenv("BUCKET_NAME", "seed-bucket-2")

    result = seeder.handler({}, None)

    assert (result["status"], result["bucket"]) == ("generated", "seed-bucket-2")
    assert image_keys(s3, "seed-bucket-2") == set(result["keys"])
    assert manifest(s3, "seed-bucket-2")["keys"] == result["keys"]
