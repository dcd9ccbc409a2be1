"""What every collector gets (a Scope) and the helpers they share to build evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from drill.aws import Clients, error_code
from drill.investigator.model import Evidence, Target, Window, iso
from drill.shared.bucket_images import IMAGE_SUFFIXES


class SourceUnavailable(Exception):
    """Raised by a collector that cannot read its source for a reason it can state."""


@dataclass(frozen=True)
class Scope:
    clients: Clients
    target: Target
    window: Window
    _cache: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def now(self) -> datetime:
        return self.window.end


Collector = Callable[[Scope], list[Evidence]]


class EvidenceList:
    """Numbers a collector's items `<source>-1`, `<source>-2`, ... so ids are unique across sources."""

    def __init__(self, source: str, scope: Scope) -> None:
        self.source = source
        self.scope = scope
        self.items: list[Evidence] = []

    def add(
        self,
        detail: str,
        facts: dict[str, Any] | None = None,
        *,
        time: datetime | None = None,
        event: str | None = None,
    ) -> Evidence:
        item = Evidence(
            id=f"{self.source}-{len(self.items) + 1}",
            source=self.source,
            time=iso(time or self.scope.now),
            detail=detail,
            facts=dict(facts or {}),
            event=event,
        )
        self.items.append(item)
        return item


def in_window(moment: datetime | None, window: Window) -> bool:
    if moment is None:
        return False
    if moment.tzinfo is None:  # boto3 returns aware datetimes; be safe with naive ones
        moment = moment.replace(tzinfo=UTC)
    return window.start <= moment <= window.end


def is_code(err: ClientError, *codes: str) -> bool:
    return error_code(err) in codes


def sample_object_arn(scope: Scope) -> str:
    """ARN of one real image (a bucket policy may deny a prefix only); a stand-in if none is listed."""
    if "sample" not in scope._cache:
        key = "example.jpg"
        try:
            listed = scope.clients.s3.list_objects_v2(Bucket=scope.target.bucket, MaxKeys=100)
            key = next(
                (o["Key"] for o in listed.get("Contents", []) if o["Key"].lower().endswith(IMAGE_SUFFIXES)),
                key,
            )
        except ClientError:
            pass  # the images collector reports listing problems; here a stand-in key is enough
        scope._cache["sample"] = f"{scope.target.bucket_arn}/{key}"
    return scope._cache["sample"]
