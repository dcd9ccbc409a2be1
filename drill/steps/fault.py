"""The injected fault in the bucket policy: find it and take it out, by the rule in drill/fault_policy.py.

Every statement that is not the fault (the TLS-only one first of all, and one that merely borrows the Sid
prefix) is written back as it was read.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from drill import stack
from drill.aws import error_code
from drill.errors import DrillError
from drill.fault_policy import is_fault
from drill.outputs import denied_role
from drill.steps.model import Drill


def statements_of(policy: dict[str, Any]) -> list[Any]:
    """Every statement as read, non-dict ones included (they are kept, never judged)."""
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found) if isinstance(found, list) else []


def image_role_arn(drill: Drill) -> str:
    """The role the fault denies (drill/outputs.py `denied_role`): newer stacks export it, older ones are read
    from Lambda."""

    def configured() -> str:
        function = drill.outputs.require(stack.IMAGE_FUNCTION)
        try:
            return str(drill.clients.lambda_.get_function_configuration(FunctionName=function)["Role"])
        except ClientError as err:
            raise DrillError(
                f"cannot tell which role the fault denies: no {stack.IMAGE_ROLE} output and "
                f"lambda:GetFunctionConfiguration on {function} failed with {error_code(err)}"
            ) from None

    return str(denied_role(drill.outputs, configured))


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
    return [str(s.get("Sid")) for s in statements_of(policy) if is_fault(s, bucket, role_arn)]


def fault_sids(drill: Drill) -> list[str]:
    return fault_sids_in(bucket_policy(drill), drill.outputs.require(stack.BUCKET), image_role_arn(drill))


def remove_directly(drill: Drill) -> list[str]:
    """Take the fault statements out of the bucket policy ourselves; the Sids removed."""
    bucket = drill.outputs.require(stack.BUCKET)
    policy = bucket_policy(drill)
    if not policy:
        return []
    role_arn = image_role_arn(drill)
    everything = statements_of(policy)
    kept = [s for s in everything if not is_fault(s, bucket, role_arn)]
    if len(kept) == len(everything):
        return []
    removed = [str(s.get("Sid")) for s in everything if is_fault(s, bucket, role_arn)]
    if kept:
        # Key order and content of the kept statements are written back as read.
        drill.clients.s3.put_bucket_policy(
            Bucket=bucket, Policy=json.dumps({**policy, "Statement": kept}, separators=(",", ":"))
        )
    else:
        drill.clients.s3.delete_bucket_policy(Bucket=bucket)  # S3 refuses a policy without statements
    return removed
