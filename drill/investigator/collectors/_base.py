"""What every collector gets (a Scope) and the helpers they share to build evidence."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from threading import Lock
from typing import Any

from botocore.exceptions import ClientError

from drill.aws import Clients, error_code
from drill.investigator.declared import Declared
from drill.investigator.model import Evidence, Target, Window, iso
from drill.investigator.policy_conditions import Caller, Situation

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class SourceUnavailable(Exception):
    """Raised by a collector that cannot read its source for a reason it can state."""


@dataclass(frozen=True)
class Scope:
    clients: Clients
    target: Target
    window: Window
    declared: Declared | None = None  # the stack's declared state, when one was read (drill/investigator/declared)
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


MAX_LISTED = 10_000  # image keys evaluated one by one (ten ListObjectsV2 pages)


def image_keys(scope: Scope) -> list[str]:
    """The bucket's image keys (at most MAX_LISTED), listed once per investigation: the bucket policy and
    the role are evaluated against each of them, since a Deny may cover only some. [] when unreadable."""
    with scope._cache.setdefault("listing", Lock()):  # setdefault is atomic: one lock per investigation
        if "keys" not in scope._cache:
            keys: list[str] = []
            try:
                pages = scope.clients.s3.get_paginator("list_objects_v2").paginate(Bucket=scope.target.bucket)
                for page in pages:
                    keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].lower().endswith(IMAGE_SUFFIXES)]
                    if len(keys) >= MAX_LISTED:
                        break
            except ClientError:
                pass  # the images collector reports listing problems
            scope._cache["keys"] = keys[:MAX_LISTED]
        return scope._cache["keys"]


def sample_object_arn(scope: Scope) -> str:
    """ARN of one real image (the role's check); a stand-in if none is listed."""
    if "sample" not in scope._cache:
        keys = image_keys(scope)
        scope._cache["sample"] = f"{scope.target.bucket_arn}/{keys[0] if keys else 'example.jpg'}"
    return scope._cache["sample"]


def function_caller(scope: Scope) -> Caller:
    """The image function's calls as IAM sees them: its role's session, with the condition keys its
    situation decides (region, VPC or none, the role's tags). Read once per investigation; what cannot be
    read stays unknown, and a condition on it stays uncertain."""
    target = scope.target
    if not target.role_arn:
        raise SourceUnavailable(target.notes.get("role_arn", "the image function's role is unknown"))
    with scope._cache.setdefault("caller-lock", Lock()):
        if "caller" not in scope._cache:
            vpc_id = tags = None
            try:
                config = scope.clients.lambda_.get_function_configuration(FunctionName=target.function_name)
                vpc_id = (config.get("VpcConfig") or {}).get("VpcId") or ""
            except ClientError:
                pass  # the function source reports it
            try:
                listed = scope.clients.iam.list_role_tags(RoleName=target.role_name).get("Tags", [])
                tags = {t["Key"]: t["Value"] for t in listed}
            except ClientError:
                pass
            situation = Situation(region=target.region, vpc_id=vpc_id, role_tags=tags)
            scope._cache["caller"] = Caller.lambda_role(
                target.role_arn, target.session_arn, target.account, target.role_id, situation
            )
        return scope._cache["caller"]
