"""image_api handler against moto: responses, pagination, AWS errors and their log line, the warm-path cache,
the response-size limit and the image-signature check."""

from __future__ import annotations

import base64
import json
import logging
from types import ModuleType, SimpleNamespace

import pytest
from botocore.exceptions import ReadTimeoutError
from conftest import ACCOUNT, REGION, load_handler, shared_session

PARAMETER = "/aiops-demo-dev/bucket-name"
BUCKET = "aiops-demo-dev-images"
GET = {"httpMethod": "GET", "path": "/random"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"  # not valid UTF-8: the body must be real base64
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x80\xff\xd9"
HTML = b"<html><script>alert(1)</script></html>"  # what must never go out as an image


@pytest.fixture
def aws(aws_reset, monkeypatch):
    """moto (with conftest's shared session), and the handler's environment set before it is loaded."""
    monkeypatch.setenv("BUCKET_NAME_PARAMETER", PARAMETER)
    monkeypatch.delenv("IMAGE_CACHE_TTL_SECONDS", raising=False)


@pytest.fixture(scope="module")
def test_clients(moto_for_module) -> SimpleNamespace:
    """The test's own S3 and SSM clients, made once: a client costs more than a moto call, and no test
    changes these (the hooks tests add go on the handler's clients, made afresh with each handler)."""
    session = shared_session()
    return SimpleNamespace(s3=session.client("s3"), ssm=session.client("ssm"))


@pytest.fixture
def s3(aws, test_clients):
    """The image bucket and the parameter naming it."""
    test_clients.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    test_clients.ssm.put_parameter(Name=PARAMETER, Value=BUCKET, Type="String")
    return test_clients.s3


def put(s3, *keys: str, body: bytes = PNG) -> None:
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


def record_calls(fn: ModuleType) -> list[str]:
    """Names of the AWS operations the handler's own clients send from now on (one per page, too)."""
    calls: list[str] = []
    for client in (fn.ssm, fn.s3):
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))
    return calls


def deny_get_object(s3) -> None:
    """What the fault injector adds (moto ignores the principal, so "*" stands in for the role ARN)."""
    statement = {
        "Sid": "AiopsFaultInjectionDenyGetObject",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))


def aws_failures(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "aws call failed"]


def decoded(response: dict) -> bytes:
    assert response["isBase64Encoded"] is True
    return base64.b64decode(response["body"], validate=True)


# ------------------------------------------------------------------------------------------- 200 / 404
@pytest.mark.parametrize(
    ("key", "body", "content_type"),
    [
        ("cat.jpg", JPEG, "image/jpeg"),
        ("cat.jpeg", JPEG, "image/jpeg"),
        ("cat.png", PNG, "image/png"),
        ("seed/CAT.JPG", JPEG, "image/jpeg"),
    ],
    ids=["jpg", "jpeg", "png", "upper-case-JPG"],
)
def test_serves_the_stored_bytes_with_the_content_type_of_the_extension(s3, key, body, content_type):
    put(s3, key, body=body)
    fn = load_handler("image_api")

    response = fn.handler(GET, None)

    assert response["statusCode"] == 200
    assert decoded(response) == body
    assert response["headers"] == {
        "Content-Type": content_type,
        "Access-Control-Allow-Origin": "*",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def test_direct_invoke_without_http_method_is_served_like_get(s3):
    put(s3, "cat.png")
    fn = load_handler("image_api")

    assert fn.handler({}, None)["statusCode"] == 200


def test_lists_only_image_keys(s3):
    put(s3, "a.png", "b.JPEG", "c.jpg", "notes.txt", "d.gif", "png", "dir.jpg/", "e.png.bak")
    fn = load_handler("image_api")

    assert sorted(obj.key for obj in fn.list_images(BUCKET)) == ["a.png", "b.JPEG", "c.jpg"]


def test_never_serves_a_non_image_key(s3):
    put(s3, "notes.txt", "d.gif", "e.png.bak")
    put(s3, "only.png", body=PNG)
    fn = load_handler("image_api")

    # 3 of 4 objects are not images: a handler choosing among all keys fails this almost surely.
    assert {decoded(fn.handler(GET, None)) for _ in range(12)} == {PNG}


@pytest.mark.parametrize("keys", [(), ("readme.txt", "photo.gif", "folder/")], ids=["empty", "no-image-keys"])
def test_no_images_is_404_json(s3, keys):
    put(s3, *keys)
    fn = load_handler("image_api")

    response = fn.handler(GET, None)

    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "application/json"
    assert json.loads(response["body"])["error"] == "no images found"


def test_images_seeded_after_a_404_are_served_at_once(s3):
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 404

    put(s3, "late.png")

    assert fn.handler(GET, None)["statusCode"] == 200


def test_finds_images_beyond_the_first_1000_keys(s3):
    # 1,048 non-image keys sort before the two images, so the first ListObjectsV2 page holds no image.
    # They go straight into moto's store: a thousand PutObject round trips would cost seconds, and only
    # the listing (through the handler's own client) is under test here.
    from moto.s3.models import s3_backends

    store = s3_backends[ACCOUNT]["global"]
    for i in range(1048):
        store.put_object(BUCKET, f"a-{i:04d}.txt", b"x")
    put(s3, "z-1.png", "z-2.jpg")
    fn = load_handler("image_api")
    calls = record_calls(fn)

    response = fn.handler(GET, None)

    assert response["statusCode"] == 200
    assert calls.count("ListObjectsV2") == 2
    assert sorted(fn.list_images(BUCKET)) == [("z-1.png", len(PNG)), ("z-2.jpg", len(PNG))]


# ------------------------------------------------------------------------------------------- AWS errors
def test_denied_get_object_is_500_with_code_and_one_error_log_line(s3, caplog):
    put(s3, "cat.png")
    deny_get_object(s3)
    fn = load_handler("image_api")

    with caplog.at_level(logging.INFO):
        response = fn.handler(GET, None)

    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body["code"] in {"AccessDenied", "403"}  # real S3 says AccessDenied, moto says 403
    assert body["error"] == "GetObject failed"
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.getMessage() == "aws call failed"
    assert record.levelno == logging.ERROR
    assert (record.error_code, record.operation, record.bucket, record.parameter) == (
        body["code"],
        "GetObject",
        BUCKET,
        PARAMETER,
    )


def test_missing_parameter_is_500_parameter_not_found(aws, caplog):
    fn = load_handler("image_api")

    with caplog.at_level(logging.ERROR):
        response = fn.handler(GET, None)

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"error": "GetParameter failed", "code": "ParameterNotFound"}
    [record] = aws_failures(caplog)
    assert (record.error_code, record.operation, record.bucket, record.parameter) == (
        "ParameterNotFound",
        "GetParameter",
        None,
        PARAMETER,
    )


def test_denied_listing_reports_real_s3_code_and_operation(s3, caplog):
    # moto does not enforce a Deny on s3:ListBucket, so answer the call the way real S3 does.
    put(s3, "cat.png")
    fn = load_handler("image_api")

    def access_denied(model, **_):
        if model.name == "ListObjectsV2":
            denied = {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}, "ResponseMetadata": {}}
            return SimpleNamespace(status_code=403, headers={}), denied
        return None

    fn.s3.meta.events.register("before-call", access_denied)

    with caplog.at_level(logging.ERROR):
        response = fn.handler(GET, None)

    assert response["statusCode"] == 500
    assert json.loads(response["body"])["code"] == "AccessDenied"
    [record] = aws_failures(caplog)
    assert (record.operation, record.bucket) == ("ListObjectsV2", BUCKET)


def test_network_failure_is_500_with_the_exception_name_as_code(s3, caplog):
    put(s3, "cat.png")
    fn = load_handler("image_api")

    def timeout(model, **_):
        if model.name == "GetObject":
            raise ReadTimeoutError(endpoint_url="https://s3.us-west-2.amazonaws.com")

    fn.s3.meta.events.register("before-call", timeout)

    with caplog.at_level(logging.ERROR):
        response = fn.handler(GET, None)

    assert json.loads(response["body"]) == {"error": "GetObject failed", "code": "ReadTimeoutError"}
    [record] = aws_failures(caplog)
    assert (record.error_code, record.operation, record.bucket) == ("ReadTimeoutError", "GetObject", BUCKET)


def test_missing_configuration_is_500_not_an_exception(aws, monkeypatch):
    monkeypatch.delenv("BUCKET_NAME_PARAMETER", raising=False)
    fn = load_handler("image_api")

    response = fn.handler(GET, None)

    assert response["statusCode"] == 500
    assert json.loads(response["body"])["code"] == "MissingConfiguration"


# ------------------------------------------------------------------------------------------- bad requests
@pytest.mark.parametrize("event", [None, "GET", ["GET"], {"httpMethod": 7}])
def test_malformed_event_is_400_and_logged(s3, event, caplog):
    fn = load_handler("image_api")

    with caplog.at_level(logging.ERROR):
        response = fn.handler(event, None)

    assert response["statusCode"] == 400
    assert "error" in json.loads(response["body"])
    assert [r.getMessage() for r in caplog.records] == ["malformed event"]


@pytest.mark.parametrize("method", ["POST", "DELETE", "HEAD"])
def test_other_methods_are_405_without_aws_calls(s3, method):
    fn = load_handler("image_api")
    calls = record_calls(fn)

    response = fn.handler({"httpMethod": method}, None)

    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == "GET"
    assert calls == []


# ------------------------------------------------------------------------------------------- caching
def test_warm_request_makes_exactly_one_get_object_call(s3):
    put(s3, "a.png", "b.png")
    fn = load_handler("image_api")
    calls = record_calls(fn)

    assert fn.handler(GET, None)["statusCode"] == 200
    assert calls == ["GetParameter", "ListObjectsV2", "GetObject"]

    calls.clear()
    assert fn.handler(GET, None)["statusCode"] == 200
    assert calls == ["GetObject"]


def test_warm_request_stays_one_call_once_bad_and_oversized_objects_are_known(s3):
    fn = load_handler("image_api")
    put(s3, "a.png", "b.png")
    put(s3, "fake.png", body=HTML)
    put(s3, "empty.png", body=b"")
    put(s3, "big.png", body=PNG + b"\0" * fn.MAX_IMAGE_BYTES)
    for _ in range(200):  # until the container has met the fake one (a request tries it at most once)
        assert fn.handler(GET, None)["statusCode"] == 200
        if fn.rejected:
            break
    assert fn.rejected == {("fake.png", len(HTML))}
    calls = record_calls(fn)

    for _ in range(30):
        assert fn.handler(GET, None)["statusCode"] == 200

    # Never the fake one again (a container that forgot it would refetch it: (2/3)**30 odds to miss that).
    assert calls == ["GetObject"] * 30


def test_injected_deny_shows_on_the_next_warm_request_and_restore_recovers(s3):
    put(s3, "cat.png")
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 200
    calls = record_calls(fn)

    deny_get_object(s3)
    assert fn.handler(GET, None)["statusCode"] == 500
    s3.delete_bucket_policy(Bucket=BUCKET)
    assert fn.handler(GET, None)["statusCode"] == 200

    assert calls == ["GetObject", "GetObject"]  # the cache survived the fault; nothing was relisted


def test_deleted_object_is_500_no_such_key_then_relisted(s3):
    put(s3, "old.png")
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 200
    s3.delete_object(Bucket=BUCKET, Key="old.png")
    put(s3, "new.jpg", body=JPEG)
    calls = record_calls(fn)

    first = fn.handler(GET, None)
    second = fn.handler(GET, None)

    assert json.loads(first["body"])["code"] == "NoSuchKey"
    assert decoded(second) == JPEG
    assert calls == ["GetObject", "ListObjectsV2", "GetObject"]


def test_vanished_bucket_is_500_no_such_bucket_then_the_parameter_is_read_again(s3, test_clients):
    put(s3, "old.png")
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 200
    s3.delete_object(Bucket=BUCKET, Key="old.png")
    s3.delete_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="aiops-demo-dev-images-2", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="aiops-demo-dev-images-2", Key="new.jpg", Body=JPEG)
    test_clients.ssm.put_parameter(Name=PARAMETER, Value="aiops-demo-dev-images-2", Type="String", Overwrite=True)
    calls = record_calls(fn)

    first = fn.handler(GET, None)
    second = fn.handler(GET, None)

    assert json.loads(first["body"])["code"] == "NoSuchBucket"
    assert decoded(second) == JPEG
    assert calls == ["GetObject", "GetParameter", "ListObjectsV2", "GetObject"]


def test_a_new_bucket_name_never_serves_keys_listed_in_the_old_bucket(s3, test_clients):
    put(s3, "old.png")
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 200
    s3.create_bucket(Bucket="aiops-demo-dev-images-2", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="aiops-demo-dev-images-2", Key="new.jpg", Body=JPEG)
    test_clients.ssm.put_parameter(Name=PARAMETER, Value="aiops-demo-dev-images-2", Type="String", Overwrite=True)

    fn.cache.drop("bucket")  # the parameter entry expires first; the listing of the old bucket is still fresh

    assert decoded(fn.handler(GET, None)) == JPEG


def test_cache_expires_after_ttl(s3, monkeypatch):
    monkeypatch.setenv("IMAGE_CACHE_TTL_SECONDS", "30")
    put(s3, "a.png")
    fn = load_handler("image_api")
    now = [1000.0]
    monkeypatch.setattr(fn, "monotonic", lambda: now[0])
    calls = record_calls(fn)

    fn.handler(GET, None)
    now[0] += 29.9
    fn.handler(GET, None)
    assert calls == ["GetParameter", "ListObjectsV2", "GetObject", "GetObject"]

    calls.clear()
    now[0] += 0.2
    fn.handler(GET, None)
    assert calls == ["GetParameter", "ListObjectsV2", "GetObject"]


def test_ttl_zero_disables_caching(s3, monkeypatch):
    monkeypatch.setenv("IMAGE_CACHE_TTL_SECONDS", "0")
    put(s3, "a.png")
    fn = load_handler("image_api")
    calls = record_calls(fn)

    fn.handler(GET, None)
    fn.handler(GET, None)

    assert calls == ["GetParameter", "ListObjectsV2", "GetObject"] * 2


@pytest.mark.parametrize(
    ("raw", "ttl"),
    [(None, 60.0), ("", 60.0), ("0", 0.0), ("15", 15.0), ("2.5", 2.5), ("-1", 60.0), ("soon", 60.0), ("nan", 60.0)],
)
def test_cache_ttl_from_environment(raw, ttl, monkeypatch):
    monkeypatch.setenv("BUCKET_NAME_PARAMETER", PARAMETER)
    fn = load_handler("image_api")

    assert fn.cache_ttl_seconds(raw) == ttl


# ------------------------------------------------------------------------------------------- size limit
LAMBDA_RESPONSE_LIMIT = 6_291_456  # Lambda quotas: 6 MB synchronous response payload


def test_the_largest_servable_image_still_fits_lambdas_response_payload(s3):
    fn = load_handler("image_api")
    largest = PNG + b"\0" * (fn.MAX_IMAGE_BYTES - len(PNG))
    put(s3, "largest.png", body=largest)

    response = fn.handler(GET, None)

    assert decoded(response) == largest
    assert len(json.dumps(response).encode()) <= LAMBDA_RESPONSE_LIMIT
    # One more 3-byte group of image would no longer leave the envelope room: the limit is not slack.
    assert (fn.MAX_IMAGE_BYTES + 3) // 3 * 4 > LAMBDA_RESPONSE_LIMIT - fn.ENVELOPE_RESERVE


def test_keys_too_large_or_empty_are_never_fetched(s3, caplog):
    fn = load_handler("image_api")
    put(s3, "big.png", body=PNG + b"\0" * (fn.MAX_IMAGE_BYTES + 1 - len(PNG)))
    put(s3, "empty.png", body=b"")
    put(s3, "ok.jpg", body=JPEG)
    calls = record_calls(fn)
    fetched: list[str] = []
    fn.s3.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: fetched.append(params["Key"]))

    with caplog.at_level(logging.WARNING):
        bodies = {decoded(fn.handler(GET, None)) for _ in range(8)}

    assert bodies == {JPEG}
    assert set(fetched) == {"ok.jpg"} and calls.count("GetObject") == 8
    [skipped] = [r for r in caplog.records if r.getMessage() == "image keys skipped for their size"]
    assert (skipped.too_large, skipped.empty) == (["big.png"], 1)  # logged with the listing, not per request


def test_only_too_large_or_empty_images_is_404(s3):
    fn = load_handler("image_api")
    put(s3, "big.png", body=PNG + b"\0" * fn.MAX_IMAGE_BYTES)
    put(s3, "empty.jpg", body=b"")

    response = fn.handler(GET, None)

    assert response["statusCode"] == 404
    assert json.loads(response["body"])["error"] == "no images found"


# ------------------------------------------------------------------------------------------- real images only
def test_content_type_comes_from_the_bytes_not_the_extension(s3):
    put(s3, "actually-a-jpeg.png", body=JPEG)
    fn = load_handler("image_api")

    response = fn.handler(GET, None)

    assert decoded(response) == JPEG and response["headers"]["Content-Type"] == "image/jpeg"


@pytest.mark.parametrize("body", [HTML, b"\xff\xd8", b"\x89PNG\r\n\x1a", b"GIF89a...."], ids=lambda b: b[:6].hex())
def test_an_object_that_is_not_a_jpeg_or_png_is_never_served_as_an_image(s3, body):
    put(s3, "fake.png", body=body)
    fn = load_handler("image_api")

    response = fn.handler(GET, None)

    assert response["statusCode"] == 502
    assert response["headers"]["Content-Type"] == "application/json"
    # The whole body is this JSON: none of the object's bytes reach the client.
    assert json.loads(response["body"]) == {"error": "no valid image found", "code": "InvalidImageContent", "tried": 1}


def test_a_bad_object_is_skipped_for_a_real_one_and_logged_once_per_container(s3, caplog):
    put(s3, "fake.png", body=HTML)
    put(s3, "real.png", body=PNG)
    fn = load_handler("image_api")
    fetched: list[str] = []
    fn.s3.meta.events.register("before-parameter-build.s3.GetObject", lambda params, **_: fetched.append(params["Key"]))

    with caplog.at_level(logging.WARNING):
        responses = [fn.handler(GET, None) for _ in range(10)]

    assert {decoded(r) for r in responses} == {PNG}
    assert {r["headers"]["Content-Type"] for r in responses} == {"image/png"}
    assert fetched.count("fake.png") <= 1 and fetched.count("real.png") == 10
    logged = [r for r in caplog.records if r.getMessage() == "object skipped: not a servable image"]
    assert [(r.key, r.reason) for r in logged] == [("fake.png", "not a JPEG or PNG")] * fetched.count("fake.png")


def test_the_search_for_a_real_image_is_bounded_and_each_bad_key_logged_once(s3, caplog):
    put(s3, *(f"fake-{i}.jpg" for i in range(5)), body=HTML)
    fn = load_handler("image_api")
    calls = record_calls(fn)

    with caplog.at_level(logging.WARNING):
        answers = [fn.handler(GET, None) for _ in range(4)]

    assert [r["statusCode"] for r in answers] == [502] * 4
    assert [json.loads(r["body"])["tried"] for r in answers] == [fn.MAX_ATTEMPTS, 5 - fn.MAX_ATTEMPTS, 0, 0]
    assert calls.count("GetObject") == 5
    logged = sorted(r.key for r in caplog.records if r.getMessage() == "object skipped: not a servable image")
    assert logged == [f"fake-{i}.jpg" for i in range(5)]


def test_an_object_grown_past_the_limit_since_it_was_listed_is_not_served(s3):
    put(s3, "grows.png", body=PNG)
    fn = load_handler("image_api")
    assert fn.handler(GET, None)["statusCode"] == 200
    put(s3, "grows.png", body=PNG + b"\0" * fn.MAX_IMAGE_BYTES)  # the cached listing still says 16 bytes

    response = fn.handler(GET, None)

    assert response["statusCode"] == 502


# ------------------------------------------------------------------------------------------- nosniff everywhere
def test_every_response_says_nosniff(s3, monkeypatch):
    put(s3, "fake.png", body=HTML)
    fn = load_handler("image_api")
    bad = fn.handler(GET, None)
    put(s3, "real.png")
    fn.cache.drop()
    answers = {
        "502": bad,
        "200": fn.handler(GET, None),
        "400": fn.handler(None, None),
        "405": fn.handler({"httpMethod": "POST"}, None),
    }
    s3.delete_object(Bucket=BUCKET, Key="real.png")
    s3.delete_object(Bucket=BUCKET, Key="fake.png")
    fn.cache.drop()
    answers["404"] = fn.handler(GET, None)
    deny_get_object(s3)
    put(s3, "real.png")
    fn.cache.drop()
    answers["500"] = fn.handler(GET, None)

    assert {name: r["statusCode"] for name, r in answers.items()} == {n: int(n) for n in answers}
    assert {name: r["headers"].get("X-Content-Type-Options") for name, r in answers.items()} == dict.fromkeys(
        answers, "nosniff"
    )
