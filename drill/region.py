"""Which region the drill works in, and from where that came.

Order: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, then the region in the
stack's API endpoint. boto3 itself reads only `AWS_DEFAULT_REGION` and the profile, so a shell that sets
only `AWS_REGION` (as the AWS CLI v2 and Lambda document it) would otherwise be ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import botocore.session
from botocore.exceptions import ProfileNotFound

from drill import stack
from drill.errors import UsageError


@dataclass(frozen=True)
class Region:
    name: str
    source: str  # "--region", "AWS_REGION", "AWS_DEFAULT_REGION", "profile <p>", "the API endpoint"


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
        ("--region", lambda: flag),
        ("AWS_REGION", lambda: env.get("AWS_REGION")),
        ("AWS_DEFAULT_REGION", lambda: env.get("AWS_DEFAULT_REGION")),
        (f"profile {named}", lambda: profile_region(profile, env)),
        ("the API endpoint", lambda: from_endpoint),
    ]
    found = next(((source, value) for source, read in candidates if (value := read())), None)
    if found is None:
        raise UsageError("no AWS region: pass --region or set AWS_REGION (or AWS_DEFAULT_REGION)")
    region = Region(found[1], found[0])
    note = None
    if from_endpoint and from_endpoint != region.name:
        note = (
            f"the API endpoint is in {from_endpoint} but the drill uses {region.name} (from {region.source}); "
            f"pass --region {from_endpoint} if the stack is there"
        )
    return region, note
