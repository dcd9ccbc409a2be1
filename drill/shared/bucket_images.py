"""How many images the stack's bucket holds (what the image function picks from): `status` shows it, the
investigator weighs it."""

from __future__ import annotations

from typing import Any

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_PAGES = 10  # 10,000 keys are plenty to tell "none" from "some"


def count_images(s3: Any, bucket: str) -> tuple[int, int, bool]:
    """(images, objects, truncated) in the bucket; raises ClientError (e.g. NoSuchBucket)."""
    images = objects = 0
    for number, page in enumerate(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket), start=1):
        keys = [o["Key"] for o in page.get("Contents", [])]
        objects += len(keys)
        images += sum(1 for k in keys if k.lower().endswith(IMAGE_SUFFIXES))
        if number >= MAX_PAGES and page.get("IsTruncated"):
            return images, objects, True
    return images, objects, False
