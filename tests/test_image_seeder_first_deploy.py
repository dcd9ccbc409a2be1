"""The first deploy in a fresh account (issue 18): a Bedrock denial waiting cannot cure is not waited out.

The default model (stability.stable-image-core-v1:1) has no Marketplace product id the Bedrock guide lists,
so the seeder's role gets no aws-marketplace statement: its Marketplace denial is certain, and the seeder
falls back at once and names the one-time step in its result (ImageSeedResult).
"""

from __future__ import annotations

import json

import pulumi
import pytest
from conftest import image_service, settled
from seeder_fixtures import image_keys
from test_image_seeder_access import MARKETPLACE_DENIED, NO_MODEL_ACCESS, PAYMENT_DENIED, denied_times


@pytest.mark.parametrize(
    ("granted", "message", "reason"),
    [
        (None, MARKETPLACE_DENIED, "MarketplaceSubscriptionRequired"),
        ("false", MARKETPLACE_DENIED, "MarketplaceSubscriptionRequired"),
        ("true", PAYMENT_DENIED, "MarketplacePaymentMethodRequired"),
        ("true", NO_MODEL_ACCESS, "ModelAccessNotEnabled"),
    ],
)
def test_a_denial_that_needs_a_person_falls_back_at_once(
    seeder, bedrock, s3, env, fake_clock, granted, message, reason
):
    if granted is not None:
        env.setenv("MARKETPLACE_GRANTED", granted)
    bedrock.respond = denied_times(None, message)

    result = seeder.handler({}, None)

    assert (result["status"], result["reason"]) == ("fallback", reason)
    assert result["detail"].startswith("One-time step:")
    assert fake_clock.sleeps == []  # no 75 s of retries for a failure that is certain
    assert len(bedrock.sent) == 1
    assert image_keys(s3) == set(result["sampleKeys"])


def test_a_marketplace_denial_is_waited_out_while_the_granted_actions_propagate(seeder, bedrock, s3, env, fake_clock):
    env.setenv("MARKETPLACE_GRANTED", "true")
    bedrock.respond = denied_times(2, MARKETPLACE_DENIED)

    result = seeder.handler({}, None)

    assert result["status"] == "generated"
    assert fake_clock.sleeps == [1.0, 2.0]


@pytest.mark.parametrize(
    ("model", "granted"), [("stability.stable-image-core-v1:1", "false"), ("stability.sd3-large-v1:0", "true")]
)
@pulumi.runtime.test
def test_the_seeder_knows_whether_its_role_may_subscribe_to_the_model(mocks, model, granted):
    svc = image_service(image_model_id=model)

    def check(_):
        seeder = mocks.one("aws:lambda/function:Function", "images-image-seeder-fn").inputs
        assert seeder["environment"]["variables"]["MARKETPLACE_GRANTED"] == granted
        policy = json.loads(mocks.one("aws:iam/rolePolicy:RolePolicy", "images-image-seeder-policy").inputs["policy"])
        sids = {statement["Sid"] for statement in policy["Statement"]}
        assert ("SubscribeToImageModel" in sids) is (granted == "true")

    return settled(svc.seeder_function.function.name).apply(check)
