"""The bucket policy: explicit Deny statements that apply to the image function's role."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from drill.fault_policy import is_fault
from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable, is_code, sample_object_arn
from drill.investigator.model import Evidence
from drill.investigator.policy import (
    Caller,
    matching_statements,
    statements,
    without_statements,
)

SOURCE = "bucket_policy"


def caller_of(scope: Scope) -> Caller:
    target = scope.target
    if not target.role_arn:
        reason = target.notes.get("role_arn", "the image function's role is unknown")
        raise SourceUnavailable(f"cannot tell whom the policy denies: {reason}")
    return Caller.lambda_role(target.role_arn, target.session_arn, target.account, target.role_id)


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
    checks = (("s3:ListBucket", target.bucket_arn), ("s3:GetObject", sample_object_arn(scope)))
    denies: dict[int, list] = {}
    for action, resource in checks:
        for match in matching_statements(
            document, policy="bucket policy", caller=caller, action=action, resource=resource, resource_policy=True
        ):
            if match.effect == "Deny":
                denies.setdefault(match.index, []).append(match)

    all_statements = statements(document)
    fault_role = target.fault_role_arn  # the role the fault injector was given
    certain_indexes = [i for i, ms in denies.items() if all(m.certain for m in ms)]
    # What the policy would be without the certain denies: the exact `put-bucket-policy` fix.
    remaining = without_statements(document, certain_indexes)
    for index, matches in sorted(denies.items()):
        sid = matches[0].sid
        actions = sorted({m.action for m in matches})
        certain = all(m.certain for m in matches)
        # Injected only when it is exactly one of the fault injector's statements (drill/fault_policy.py):
        # that is what `python -m drill restore` removes; a look-alike Sid is someone else's Deny.
        injected = is_fault(all_statements[index], target.bucket, fault_role)
        verb = "denies" if certain else "may deny"
        origin = ", added by the fault injector" if injected else ""
        out.add(
            f"bucket policy of {target.bucket}: statement {sid or f'#{index}'} {verb} {', '.join(actions)} "
            f"to role {target.role_name}: {matches[0].how}{origin}",
            {
                "deny": True,
                "certain": certain,
                "sid": sid,
                "index": index,
                "actions": actions,
                "injected": injected,
                "bucket": target.bucket,
                "policy_without": None if remaining is None else json.dumps(remaining, separators=(",", ":")),
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
