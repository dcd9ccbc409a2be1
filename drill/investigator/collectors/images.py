"""How many images the stack's bucket holds (what the image function picks from)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import IMAGE_SUFFIXES, EvidenceList, Scope, is_code
from drill.investigator.model import Evidence

SOURCE = "images"
MAX_PAGES = 10  # 10,000 keys are plenty to tell "none" from "some"


def count_images(s3, bucket: str) -> tuple[int, int, bool]:
    """(images, objects, truncated) in the bucket; raises ClientError (e.g. NoSuchBucket)."""
    images = objects = 0
    for number, page in enumerate(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket), start=1):
        keys = [o["Key"] for o in page.get("Contents", [])]
        objects += len(keys)
        images += sum(1 for k in keys if k.lower().endswith(IMAGE_SUFFIXES))
        if number >= MAX_PAGES and page.get("IsTruncated"):
            return images, objects, True
    return images, objects, False


def collect(scope: Scope) -> list[Evidence]:
    bucket, out = scope.target.bucket, EvidenceList(SOURCE, scope)
    try:
        images, objects, truncated = count_images(scope.clients.s3, bucket)
    except ClientError as err:
        if not is_code(err, "NoSuchBucket"):
            raise
        out.add(f"bucket {bucket} does not exist", {"bucket": bucket, "bucket_exists": False, "count": 0})
        return out.items
    at_least = "at least " if truncated else ""
    out.add(
        f"bucket {bucket} holds {at_least}{images} images (.jpg/.jpeg/.png) among {objects} objects",
        {"bucket": bucket, "bucket_exists": True, "count": images, "objects": objects},
    )
    return out.items
