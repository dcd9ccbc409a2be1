"""How many images the stack's bucket holds (what the image function picks from)."""

from __future__ import annotations

from botocore.exceptions import ClientError

from drill.investigator.collectors._base import EvidenceList, Scope, is_code
from drill.investigator.model import Evidence
from drill.shared.bucket_images import count_images

SOURCE = "images"


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
