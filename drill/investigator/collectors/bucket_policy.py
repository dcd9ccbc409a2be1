"""The bucket policy: explicit Deny statements that apply to the image function's role."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from drill.fault_policy import is_fault
from drill.investigator.collectors._base import (
    EvidenceList,
    Scope,
    SourceUnavailable,
    function_caller,
    image_keys,
    is_code,
    sample_object_arn,
)
from drill.investigator.model import Evidence
from drill.investigator.policy import (
    Caller,
    load_document,
    matching_statements,
    statements,
    without_statements,
)

SOURCE = "bucket_policy"


def blocked_share(denies: dict[int, list], objects: int, *, certain_only: bool = False) -> float:
    """The share of requests the Denies fail: all when the listing is denied, else the share of keys."""
    matches = [m for ms in denies.values() if not certain_only or all(m.certain for m in ms) for m in ms]
    if any(m.action == "s3:ListBucket" for m in matches):
        return 1.0
    return round(len({m.resource for m in matches if m.action == "s3:GetObject"}) / objects, 3) if objects else 0.0


def compact(document: dict | None) -> str | None:
    return None if document is None else json.dumps(document, separators=(",", ":"))


def caller_of(scope: Scope) -> Caller:
    try:
        return function_caller(scope)
    except SourceUnavailable as err:
        raise SourceUnavailable(f"cannot tell whom the policy denies: {err}") from err


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    caller = caller_of(scope)
    try:
        document = scope.clients.s3.get_bucket_policy(Bucket=target.bucket)["Policy"]
    except ClientError as err:
        if is_code(err, "NoSuchBucketPolicy"):
            out.add(f"bucket {target.bucket} has no bucket policy", {"deny": False, "statements": 0})
            return out.items
        if is_code(err, "NoSuchBucket"):
            out.add(f"bucket {target.bucket} does not exist", {"deny": False, "bucket_exists": False})
            return out.items
        raise
    document = load_document(document)
    keys = image_keys(scope)
    # Every listed image is checked, not one sample: a Deny on a prefix or on some keys fails only the
    # requests that pick them (the function picks a key at random), and the report gives that share.
    objects = [f"{target.bucket_arn}/{key}" for key in keys] or [sample_object_arn(scope)]
    checks = [("s3:ListBucket", target.bucket_arn), *(("s3:GetObject", arn) for arn in objects)]
    denies: dict[int, list] = {}
    for action, resource in checks:
        for match in matching_statements(
            document, policy="bucket policy", caller=caller, action=action, resource=resource, resource_policy=True
        ):
            if match.effect == "Deny":
                denies.setdefault(match.index, []).append(match)
    share, share_possible = blocked_share(denies, len(objects), certain_only=True), blocked_share(denies, len(objects))

    all_statements = statements(document)
    fault_role = target.fault_role_arn  # the role the fault injector was given
    certain_indexes = [i for i, ms in denies.items() if all(m.certain for m in ms)]
    # What the policy would be without the certain denies: the exact `put-bucket-policy` fix. An uncertain
    # Deny stays in it; only when no Deny is certain does the fix offer to drop the possible ones.
    remaining = without_statements(document, certain_indexes)
    possible = without_statements(document, list(denies))
    for index, matches in sorted(denies.items()):
        sid = matches[0].sid
        actions = sorted({m.action for m in matches})
        certain = all(m.certain for m in matches)
        blocked = len({m.resource for m in matches if m.action == "s3:GetObject"})
        lists = any(m.action == "s3:ListBucket" for m in matches)
        scope_text = "the listing" if lists else f"{blocked} of {len(objects)} {'listed images' if keys else 'keys'}"
        # Injected only when it is exactly one of the fault injector's statements (drill/fault_policy.py):
        # that is what `python -m drill restore` removes; a look-alike Sid is someone else's Deny.
        injected = is_fault(all_statements[index], target.bucket, fault_role)
        verb = "denies" if certain else "may deny"
        origin = ", added by the fault injector" if injected else ""
        out.add(
            f"bucket policy of {target.bucket}: statement {sid or f'#{index}'} {verb} {', '.join(actions)} "
            f"({scope_text}) to role {target.role_name}: {matches[0].how}{origin}",
            {
                "deny": True,
                "certain": certain,
                "sid": sid,
                "index": index,
                "actions": actions,
                "injected": injected,
                "bucket": target.bucket,
                "keys_blocked": blocked,
                "keys_listed": len(keys),
                "lists": lists,
                "share": share,  # of requests the certain Denies fail together
                "share_possible": share_possible,  # with the uncertain ones too
                "policy_without": compact(remaining),
                "policy_without_possible": compact(possible),
            },
        )
    if not denies:
        sids = [str(s.get("Sid")) for s in all_statements if is_fault(s, target.bucket, fault_role)]
        extra = f"; injected statements {sids} do not name this role" if sids else ""
        out.add(
            f"bucket policy of {target.bucket} has {len(all_statements)} statements, none denies role "
            f"{target.role_name} s3:ListBucket or s3:GetObject{extra}",
            {"deny": False, "statements": len(all_statements), "injected_sids": sids},
        )
    return out.items
