"""The seeder's permissions, as narrow as its contract allows.

The seeder writes images only under `generated/` and `samples/`, keeps what it generated with in
`seeder/manifest.json`, and replaces only its own images when the model or count changes.
"""

from __future__ import annotations

from typing import Any

import pulumi

# Bedrock models sold through AWS Marketplace: the first InvokeModel in an account subscribes the
# account, and that needs aws-marketplace:Subscribe (conditionable on the product id) and
# aws-marketplace:ViewSubscriptions on the caller. Product ids from "Use product ID condition keys to
# control access", https://docs.aws.amazon.com/bedrock/latest/userguide/model-access-product-ids.html
# (prerequisites: https://docs.aws.amazon.com/bedrock/latest/userguide/model-access.html). Only model
# versions whose product id that page lists are here; another stability.* model gets no Marketplace
# statement and needs the one-time subscription step (see README, "Seed images").
MARKETPLACE_PRODUCT_IDS = {
    "stability.stable-image-core-v1:0": "prod-eacdrmv7zfc5e",  # Stable Image Core 1.0
    "stability.sd3-large-v1:0": "prod-cqfmszl26sxu4",  # Stable Diffusion 3 Large 1.0
    "stability.stable-image-ultra-v1:0": "prod-7boen2z2wnxrg",  # Stable Image Ultra 1.0
    "stability.sd3-5-large-v1:0": "prodview-ajc3gw4mjy7my",  # Stability 3.5 Large 1.0
}

SEEDER_PREFIXES = ("generated/", "samples/")
MANIFEST_PREFIX = "seeder/"


def foundation_model_arn(region: str, model_id: str) -> str:
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def marketplace_statements(model_id: str) -> list[dict[str, Any]]:
    """Subscribe to this one model's product (and read subscriptions); none for models without a listed id."""
    product_id = MARKETPLACE_PRODUCT_IDS.get(model_id)
    if product_id is None:
        return []
    # Marketplace actions have no resource types: "*" is the only Resource AWS accepts.
    return [
        {
            "Sid": "SubscribeToImageModel",
            "Effect": "Allow",
            "Action": "aws-marketplace:Subscribe",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws-marketplace:ProductId": [product_id]}},
        },
        {
            "Sid": "ViewModelSubscriptions",
            "Effect": "Allow",
            "Action": "aws-marketplace:ViewSubscriptions",
            "Resource": "*",
        },
    ]


def marketplace_granted(model_id: str) -> bool:
    """Whether the seeder's role may subscribe to the model (the seeder's MARKETPLACE_GRANTED)."""
    return bool(marketplace_statements(model_id))


def seeder_statements(bucket_arn: pulumi.Input[str], region: str, model_id: str) -> list[dict[str, Any]]:
    """List the bucket; write its own prefixes and manifest; read the manifest; delete only its own images."""

    def under(*prefixes: str) -> list[pulumi.Output[str]]:
        return [pulumi.Output.concat(bucket_arn, "/", prefix, "*") for prefix in prefixes]

    return [
        {
            "Sid": "GenerateImages",
            "Effect": "Allow",
            "Action": "bedrock:InvokeModel",
            "Resource": foundation_model_arn(region, model_id),
        },
        {"Sid": "CheckForImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_arn},
        {
            "Sid": "StoreImagesAndManifest",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": under(*SEEDER_PREFIXES, MANIFEST_PREFIX),
        },
        {"Sid": "ReadManifest", "Effect": "Allow", "Action": "s3:GetObject", "Resource": under(MANIFEST_PREFIX)},
        {
            "Sid": "ReplaceOwnImages",
            "Effect": "Allow",
            "Action": "s3:DeleteObject",
            "Resource": under(*SEEDER_PREFIXES),
        },
        *marketplace_statements(model_id),
    ]
