"""The SSM parameter that tells the image function which bucket to read, and whether that bucket exists."""

from __future__ import annotations

from botocore.exceptions import ClientError, ParamValidationError

from drill.investigator.collectors._base import EvidenceList, Scope, in_window, is_code
from drill.investigator.model import Evidence

SOURCE = "parameter"


def bucket_exists(scope: Scope, bucket: str) -> bool | None:
    """True/False from HeadBucket; 403 means it exists but belongs to someone else; None if unknown."""
    try:
        scope.clients.s3.head_bucket(Bucket=bucket)
        return True
    except ParamValidationError:
        return False  # not a valid bucket name (a space, a slash): no such bucket can exist
    except ClientError as err:
        if is_code(err, "404", "NoSuchBucket", "NotFound"):
            return False
        if is_code(err, "403", "AccessDenied"):
            return True
        return None


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    name = target.parameter_name
    try:
        parameter = scope.clients.ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as err:
        if not is_code(err, "ParameterNotFound"):
            raise
        out.add(f"parameter {name} does not exist", {"exists": False, "name": name})
        return out.items
    value = str(parameter.get("Value", ""))
    modified = parameter.get("LastModifiedDate")
    event = f"parameter {name} set to {value!r}" if in_window(modified, scope.window) else None
    facts = {"exists": True, "name": name, "value": value, "expected": target.bucket}
    if value == target.bucket:
        out.add(
            f"parameter {name} = {value!r}, the stack's bucket", {**facts, "matches": True}, time=modified, event=event
        )
        return out.items
    exists = bucket_exists(scope, value)
    state = {True: "exists", False: "does not exist", None: "could not be checked"}[exists]
    out.add(
        f"parameter {name} = {value!r}, not the stack's bucket {target.bucket!r}; bucket {value!r} {state}",
        {**facts, "matches": False, "bucket_exists": exists},
        time=modified,
        event=event,
    )
    return out.items
