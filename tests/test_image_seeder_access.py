"""image_seeder under a role policy that is still propagating, and Bedrock models that need a one-time step.

Time is injected (FakeClock): the 75 s retry window passes instantly, and the sleeps are asserted.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from seeder_fixtures import aws_error, default_answer, deny_s3, image_keys, manifest

MARKETPLACE_DENIED = (
    "Model access is denied due to IAM user or service role is not authorized to perform the required AWS "
    "Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to enable access to this "
    "model. Refer to the Amazon Bedrock documentation for further details. Your AWS Marketplace subscription for "
    "this model cannot be completed at this time. If you recently fixed this issue, try again after 15 minutes."
)
PAYMENT_DENIED = "Model access is denied due to INVALID_PAYMENT_INSTRUMENT:A valid payment instrument must be provided."
NO_MODEL_ACCESS = "You don't have access to the model with the specified model ID."
DOC = "https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html"


def denied_times(times: int | None, message: str = "AccessDeniedException for the test"):
    """A Bedrock answer: AccessDeniedException for the first `times` calls (None: always), then images."""
    count = [0]

    def respond(model, body):
        count[0] += 1
        if times is None or count[0] <= times:
            raise aws_error("AccessDeniedException", message=message)
        return default_answer(model, body)

    return respond


# ------------------------------------------------------------------------------------ Bedrock
def test_bedrock_access_denied_twice_then_allowed_generates(seeder, bedrock, s3, env, fake_clock):
    env.setenv("IMAGE_COUNT", "3")
    bedrock.respond = denied_times(2)

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert len(result["keys"]) == 3
    assert fake_clock.sleeps == [1.0, 2.0]  # backoff, then the policy is in effect
    assert len(bedrock.sent) == 5  # three tries of the first call, then the two others once each


def test_bedrock_access_denied_for_good_falls_back_after_the_window(seeder, bedrock, s3, fake_clock):
    bedrock.respond = denied_times(None)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", "AccessDeniedException")
    assert fake_clock.sleeps[:5] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert max(fake_clock.sleeps) == 16.0
    assert sum(fake_clock.sleeps) == pytest.approx(75)
    assert len(bedrock.sent) == len(fake_clock.sleeps) + 1
    assert image_keys(s3) == set(result["sampleKeys"])


def test_other_bedrock_errors_are_not_waited_out(seeder, bedrock, s3, fake_clock):
    bedrock.respond = lambda model, body: (_ for _ in ()).throw(aws_error("ValidationException"))

    assert seeder.handler({}, None)["reason"] == "ValidationException"
    assert fake_clock.sleeps == []


# ------------------------------------------------------------------------------------ S3
def test_the_window_shrinks_to_the_lambda_time_left(seeder, bedrock, s3, fake_clock):
    deny_s3(seeder, "PutObject")
    started = fake_clock.now

    def remaining_ms():  # 100 s left at the start: 40 s of retrying, 60 s kept in reserve
        return 100_000 - int((fake_clock.now - started) * 1000)

    result = seeder.handler({}, SimpleNamespace(get_remaining_time_in_millis=remaining_ms))

    assert result["status"] == "failed"
    assert sum(fake_clock.sleeps) == pytest.approx(40)


@pytest.mark.parametrize("operation", ["GetObject", "ListObjectsV2", "PutObject"])
def test_s3_access_denied_twice_then_allowed_generates(seeder, bedrock, s3, env, fake_clock, operation):
    env.setenv("IMAGE_COUNT", "2")
    denials = deny_s3(seeder, operation, times=2)

    result = seeder.handler({}, None)

    assert result["status"] == "generated", result
    assert denials[0] == 2
    assert fake_clock.sleeps == [1.0, 2.0]
    assert set(manifest(s3)["keys"]) == set(result["keys"]) == image_keys(s3)


def test_s3_access_denied_for_good_fails_with_a_clear_reason(seeder, bedrock, s3, fake_clock):
    deny_s3(seeder, "PutObject")

    result = seeder.handler({}, None)

    assert result["status"] == "failed"
    assert (result["code"], result["operation"]) == ("AccessDenied", "PutObject")
    assert "still denied after" in result["error"] and "75.0 s" in result["error"]
    assert "seeder role's policy" in result["error"]
    assert sum(fake_clock.sleeps) == pytest.approx(75)


# ------------------------------------------------------------------------------------ one-time steps
@pytest.mark.parametrize(
    ("message", "reason", "step"),
    [
        (MARKETPLACE_DENIED, "MarketplaceSubscriptionRequired", "aws-marketplace:Subscribe"),
        (PAYMENT_DENIED, "MarketplacePaymentMethodRequired", "payment method"),
        (NO_MODEL_ACCESS, "ModelAccessNotEnabled", "enable access to stability.stable-image-core-v1:1"),
    ],
)
def test_access_that_needs_a_person_names_the_one_time_step(seeder, bedrock, s3, message, reason, step):
    bedrock.respond = denied_times(None, message)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", reason)
    detail = result["detail"]
    assert detail.startswith("One-time step:")
    assert step in detail
    assert DOC in detail
    assert message in detail  # AWS's own words are kept
    # ...and how to get generated images afterwards, with this function's name.
    assert "aws lambda invoke --function-name aiops-demo-dev-image-seeder" in detail and '"force": true' in detail
    assert image_keys(s3) == set(result["sampleKeys"])


def test_marketplace_step_names_every_permission_the_subscription_needs(seeder, bedrock, s3):
    bedrock.respond = denied_times(None, MARKETPLACE_DENIED)

    detail = seeder.handler({}, None)["detail"]

    for action in ("aws-marketplace:Subscribe", "aws-marketplace:ViewSubscriptions", "aws-marketplace:Unsubscribe"):
        assert action in detail
    assert "Amazon Bedrock console" in detail
