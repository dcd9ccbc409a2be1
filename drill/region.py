"""Which region the drill works in, and from where that came.

Order: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, then the region in the
stack's API endpoint. boto3 itself reads only `AWS_DEFAULT_REGION` and the profile, so a shell that sets
only `AWS_REGION` (as the AWS CLI v2 and Lambda document it) would otherwise be ignored.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import botocore.loaders
import botocore.session
from botocore.exceptions import ProfileNotFound

from drill import stack
from drill.errors import UsageError


@dataclass(frozen=True)
class Region:
    name: str
    source: str  # "--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile <p>", "the API endpoint"


@functools.cache
def _partitions() -> tuple[tuple[re.Pattern[str], frozenset[str]], ...]:
    """(regionRegex, known region names) of every partition in botocore's endpoints data."""
    data = botocore.loaders.create_loader().load_data("endpoints")
    return tuple((re.compile(p["regionRegex"]), frozenset(p.get("regions", {}))) for p in data["partitions"])


def is_region_name(value: str) -> bool:
    """Whether `value` has the form of a region in one of botocore's partitions (aws, aws-cn, aws-us-gov...)."""
    return any(value in known or pattern.fullmatch(value) for pattern, known in _partitions())


NOT_A_REGION = (
    "is not an AWS region name: expected the form area-direction-number of botocore's partitions, "
    "e.g. us-east-1, eu-west-2, cn-north-1 or us-gov-west-1"
)


def check_region(value: str, source: str) -> str:
    """`value` if it looks like a region name, else a UsageError naming it, where it came from and the form."""
    if not is_region_name(value):
        raise UsageError(f"{source} {value!r} {NOT_A_REGION}")
    return value


def endpoint_region(outputs: stack.StackOutputs) -> str | None:
    match = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", outputs.get(stack.API_ENDPOINT) or "")
    return match.group(1) if match else None


def profile_region(profile: str | None, environ: Mapping[str, str]) -> str | None:
    """The `region` of the profile in the AWS config file (not the environment variables)."""
    session = botocore.session.Session(profile=profile or environ.get("AWS_PROFILE") or None)
    try:
        return session.get_scoped_config().get("region") or None
    except ProfileNotFound as err:
        raise UsageError(str(err)) from None


def resolve_region(
    flag: str | None, profile: str | None, outputs: stack.StackOutputs, environ: Mapping[str, str] | None = None
) -> tuple[Region, str | None]:
    """The region to use, and a note when the API endpoint is in another one."""
    env = os.environ if environ is None else environ
    from_endpoint = endpoint_region(outputs)
    named = profile or env.get("AWS_PROFILE") or "default"
    candidates = [
        ("--region", lambda: flag),  # given, even empty, is the operator's choice: checked below, never skipped
        ("AWS_REGION", lambda: env.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", lambda: env.get("AWS_DEFAULT_REGION")),
        (f"profile {named}", lambda: profile_region(profile, env)),
        ("the API endpoint", lambda: from_endpoint),
    ]
    region = None
    for source, read in candidates:
        value = read()
        if value or (value is not None and source == "--region"):
            region = Region(check_region(value, source), source)  # before any AWS call
            break
    if region is None:
        raise UsageError("no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)")
    note = None
    if from_endpoint and from_endpoint != region.name:
        note = (
            f"the API endpoint is in {from_endpoint} but the drill uses {region.name} (from {region.source}); "
            f"pass --region {from_endpoint} if the stack is there"
        )
    return region, note
