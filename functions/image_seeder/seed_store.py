"""S3 side of the seeder: its manifest, the images it writes, and deleting only what it wrote.

The seeder's role may write only under generated/, samples/ and seeder/, read only seeder/, and delete only
under generated/ and samples/. `seeder/manifest.json` records what the last run wrote and with what:

    {"version": 1, "model": "stability.stable-image-core-v1:1", "count": 5, "status": "generated",
     "keys": ["generated/01-<sha256[:12]>.jpg", ...], "staleKeys": [], "seededAt": "2026-11-25T23:59:00+00:00"}

`staleKeys` are keys an earlier run wrote that a replacement has not deleted yet (the next run retries).
Only keys under generated/ or samples/ taken from the manifest are ever deleted.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from seed_bedrock import image_type

logger = logging.getLogger()

MANIFEST_KEY = "seeder/manifest.json"
OWNED_PREFIXES = ("generated/", "samples/")
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    model: str
    count: int
    status: str
    keys: list[str]
    seeded_at: str
    stale_keys: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        fields = {"version": MANIFEST_VERSION, "model": self.model, "count": self.count, "status": self.status}
        fields |= {"keys": self.keys, "staleKeys": self.stale_keys, "seededAt": self.seeded_at}
        return json.dumps(fields, indent=1).encode()

    @classmethod
    def parse(cls, raw: bytes) -> Manifest | None:
        """The manifest, or None if it is not one this seeder wrote (then nothing it lists is trusted)."""
        try:
            data = json.loads(raw)
            keys, stale = data["keys"], data.get("staleKeys", [])
            if not (isinstance(data["model"], str) and isinstance(data["count"], int)):
                return None
            if not all(isinstance(k, str) and k.startswith(OWNED_PREFIXES) for k in [*keys, *stale]):
                return None
            status, seeded_at = str(data.get("status", "")), str(data.get("seededAt", ""))
            return cls(data["model"], data["count"], status, keys, seeded_at, stale)
        except (ValueError, TypeError, KeyError):
            return None


class Store:
    """The image bucket as the seeder sees it; every call goes through the invocation's AccessRetry."""

    def __init__(self, s3: Any, bucket: str, retry: Any) -> None:
        self.s3, self.bucket, self.retry = s3, bucket, retry

    def read_manifest(self) -> Manifest | None:
        try:
            got = self.retry.call(self.s3.get_object, Bucket=self.bucket, Key=MANIFEST_KEY)
        except ClientError as err:
            if err.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        manifest = Manifest.parse(got["Body"].read())
        if manifest is None:
            logger.warning("manifest ignored: not one this seeder wrote", extra={"key": MANIFEST_KEY})
        return manifest

    def write_manifest(self, manifest: Manifest) -> None:
        self.retry.call(
            self.s3.put_object,
            Bucket=self.bucket,
            Key=MANIFEST_KEY,
            Body=manifest.to_json(),
            ContentType="application/json",
        )

    def present_keys(self) -> set[str]:
        """Every key under the prefixes the seeder writes to (paginated)."""
        found: set[str] = set()
        for prefix in OWNED_PREFIXES:
            token: dict[str, str] = {}
            while True:
                page = self.retry.call(self.s3.list_objects_v2, Bucket=self.bucket, Prefix=prefix, **token)
                found.update(item["Key"] for item in page.get("Contents", []))
                if not page.get("IsTruncated"):
                    break
                token = {"ContinuationToken": page["NextContinuationToken"]}
        return found

    def put_image(self, key: str, data: bytes, content_type: str, source: str) -> str:
        self.retry.call(self.s3.put_object, Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        logger.info(
            "image stored",
            extra={"key": key, "content_type": content_type, "bytes": len(data), "source": source},
        )
        return key

    def delete(self, keys: list[str]) -> list[str]:
        """Delete keys the manifest says this seeder wrote; the keys that could not be deleted."""
        failed = []
        for key in keys:
            if not key.startswith(OWNED_PREFIXES):  # belt and braces: Manifest.parse already refuses these
                failed.append(key)
                continue
            try:
                self.retry.call(self.s3.delete_object, Bucket=self.bucket, Key=key)
                logger.info("image deleted: replaced by a new seed", extra={"bucket": self.bucket, "key": key})
            except ClientError as err:
                logger.error(
                    "delete failed",
                    extra={"error_code": err.response["Error"]["Code"], "operation": "DeleteObject", "key": key},
                )
                failed.append(key)
        return failed

    def upload_samples(self, samples_dir: Path, written: list[str]) -> list[str]:
        keys = []
        for path in sorted(samples_dir.iterdir()):
            data = path.read_bytes()
            kind = image_type(data)  # the key's extension and Content-Type follow the bytes, not the file name
            if kind is None:
                logger.warning("bundled file skipped: not a PNG or JPEG", extra={"file": path.name})
                continue
            keys.append(self.put_image(f"samples/{path.stem}{kind[0]}", data, kind[1], "sample"))
            written.append(keys[-1])
        if not keys:
            raise RuntimeError(f"no sample images bundled in {samples_dir}")
        return keys
