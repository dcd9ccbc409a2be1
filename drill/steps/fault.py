"""The injected fault as data: exactly the fault injector's two statements, found and removed by equality.

Same rule as the fault function (the shared contract): a statement is the fault only when it EQUALS one
of the two statements below after normalising (a one-element list equals its string, lists compare as
sets, key order is irrelevant). A statement that merely carries the `AiopsFaultInjection` Sid prefix is
someone else's and is kept, and every other statement is written back as it was read.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError
from drill.steps.model import Drill

IMAGE_ROLE_ARN = "ImageFunctionRoleArn"  # newer stacks export it; older ones are read from Lambda
PREFIX = "AiopsFaultInjection"


def fault_statements(bucket: str, role_arn: str) -> list[dict[str, Any]]:
    principal = {"AWS": role_arn}
    return [
        {
            "Sid": f"{PREFIX}DenyListBucket",
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:ListBucket",
            "Resource": f"arn:aws:s3:::{bucket}",
        },
        {
            "Sid": f"{PREFIX}DenyGetObject",
            "Effect": "Deny",
            "Principal": principal,
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        },
    ]


def normalise(value: Any) -> Any:
    """A form in which equal policy elements compare equal."""
    if isinstance(value, dict):
        return {key: normalise(item) for key, item in value.items()}
    if isinstance(value, list):
        unique = sorted({json.dumps(normalise(item), sort_keys=True) for item in value})
        items = [json.loads(text) for text in unique]
        return items[0] if len(items) == 1 else items
    return value


def statements_of(policy: dict[str, Any]) -> list[Any]:
    """Every statement as read, non-dict ones included (they are kept, never judged)."""
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found) if isinstance(found, list) else []


def image_role_arn(drill: Drill) -> str:
    """The role the fault denies: the stack's output, else the image function's configured role."""
    declared = drill.outputs.get(IMAGE_ROLE_ARN)
    if declared:
        return declared
    function = drill.outputs.require(stack.IMAGE_FUNCTION)
    try:
        return str(drill.clients.lambda_.get_function_configuration(FunctionName=function)["Role"])
    except ClientError as err:
        raise DrillError(
            f"cannot tell which role the fault denies: no {IMAGE_ROLE_ARN} output and "
            f"lambda:GetFunctionConfiguration on {function} failed with {error_code(err)}"
        ) from None


def bucket_policy(drill: Drill) -> dict[str, Any] | None:
    try:
        text = drill.clients.s3.get_bucket_policy(Bucket=drill.outputs.require(stack.BUCKET))["Policy"]
    except ClientError as err:
        if error_code(err) == "NoSuchBucketPolicy":
            return None
        raise
    document = json.loads(text)
    return document if isinstance(document, dict) else {}


def fault_sids_in(policy: dict[str, Any] | None, bucket: str, role_arn: str) -> list[str]:
    """Sids of the statements in the policy that are the injected fault."""
    if not policy:
        return []
    wanted = [normalise(s) for s in fault_statements(bucket, role_arn)]
    return [str(s.get("Sid")) for s in statements_of(policy) if normalise(s) in wanted]


def fault_sids(drill: Drill) -> list[str]:
    return fault_sids_in(bucket_policy(drill), drill.outputs.require(stack.BUCKET), image_role_arn(drill))


def remove_directly(drill: Drill) -> list[str]:
    """Take the fault statements out of the bucket policy ourselves; the Sids removed."""
    bucket = drill.outputs.require(stack.BUCKET)
    policy = bucket_policy(drill)
    if not policy:
        return []
    wanted = [normalise(s) for s in fault_statements(bucket, image_role_arn(drill))]
    everything = statements_of(policy)
    kept = [s for s in everything if not (isinstance(s, dict) and normalise(s) in wanted)]
    if len(kept) == len(everything):
        return []
    removed = [str(s.get("Sid")) for s in everything if isinstance(s, dict) and normalise(s) in wanted]
    if kept:
        # Key order and content of the kept statements are written back as read.
        drill.clients.s3.put_bucket_policy(
            Bucket=bucket, Policy=json.dumps({**policy, "Statement": kept}, separators=(",", ":"))
        )
    else:
        drill.clients.s3.delete_bucket_policy(Bucket=bucket)  # S3 refuses a policy without statements
    return removed
