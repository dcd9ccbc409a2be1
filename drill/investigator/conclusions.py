"""What follows from the root cause: impact path, timeline, remediation commands and caveats."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from drill.investigator.model import Evidence, Hypothesis, Target, TimelineEntry, Window, iso

RESTORE_PAYLOAD = json.dumps({"action": "restore"}, separators=(",", ":"))

# What the image function does when each cause holds (used when no error line was read).
EXPECTED_FAILURE = {
    "bucket_policy_deny": "AccessDenied from ListObjectsV2/GetObject",
    "role_permission_missing": "AccessDenied on the calls its role may not make",
    "parameter_missing": "ParameterNotFound from GetParameter",
    "parameter_wrong_bucket": "NoSuchBucket (or AccessDenied) from ListObjectsV2 on the wrong bucket",
    "no_images": "nothing to return",
    "function_throttled": "never runs: Lambda throttles every invocation",
}


def _by_id(evidence: Sequence[Evidence]) -> dict[str, Evidence]:
    return {e.id: e for e in evidence}


def cause(root: Hypothesis, cited: Sequence[Evidence]) -> str:
    """The first link of the impact path: the resource state that breaks the request."""
    if root.kind == "bucket_policy_deny":
        denies = [e for e in cited if e.source == "bucket_policy"]
        sids = ", ".join(str(e.facts.get("sid") or f"#{e.facts.get('index')}") for e in denies)
        actions = ", ".join(sorted({a for e in denies for a in e.facts.get("actions", [])}))
        return f"bucket policy of {root.resource}: {sids} explicitly deny {actions} to the image function's role"
    if root.kind == "role_permission_missing":
        missing = [e for e in cited if e.source == "role_policy"]
        verdicts = "; ".join(f"{e.facts['action']} {e.facts['decision']}" for e in missing)
        return f"role {root.resource.rsplit('/', 1)[-1]}: {verdicts}"
    state = next((e for e in cited if e.source in ("parameter", "images", "concurrency")), None)
    return state.detail if state else root.summary


def impact_path(root: Hypothesis, evidence: Sequence[Evidence], target: Target) -> list[str]:
    """Cause -> image function -> API, each step backed by evidence where there is some."""
    cited = [e for i in root.evidence if (e := _by_id(evidence).get(i))]
    path = [cause(root, cited)]

    errors = [e for e in cited if e.source == "logs"]
    throttles = [e for e in cited if e.source == "metrics" and e.facts.get("metric") == "fn_throttles"]
    if errors:
        path += [
            f"image function {target.function_name}: {e.facts.get('error_code')} from {e.facts.get('operation')} "
            f"({e.facts.get('count')} error lines)"
            for e in errors
        ]
    elif throttles:
        path.append(f"image function {target.function_name}: {throttles[0].detail}")
    else:
        path.append(
            f"image function {target.function_name}: {EXPECTED_FAILURE[root.kind]} (expected; no error "
            "lines read in the window)"
        )

    api = f"API {target.api_name}/{target.api_stage}" if target.api_name else "API"
    seen = [
        e.detail
        for e in evidence
        if e.available
        and (
            (e.source == "alarms" and e.facts.get("purpose") == "api_5xx" and e.facts.get("state") == "ALARM")
            or (e.source == "metrics" and e.facts.get("metric") == "api_5xx" and e.facts.get("sum", 0) > 0)
        )
    ]
    answer = "error responses" if root.kind == "no_images" else "5XX responses (500 from the function)"
    path.append(f"{api}: {answer}" + (f" — {'; '.join(seen)}" if seen else " (expected; no 5XX datapoint yet)"))
    return path


def timeline(evidence: Sequence[Evidence], window: Window) -> list[TimelineEntry]:
    """Events in time order; an alarm change seen both in state and in history is listed once."""
    entries: dict[tuple, TimelineEntry] = {}
    for e in evidence:
        if not e.available or not e.event:
            continue
        alarm = e.facts.get("alarm")
        key = (e.time, alarm, e.facts.get("to_state")) if alarm else (e.time, e.event)
        if key in entries and e.source == "alarms":
            continue  # the history item says the same with more detail
        entries[key] = TimelineEntry(e.time, e.event)
    ordered = sorted(entries.values(), key=lambda t: t.time)
    ordered.append(TimelineEntry(iso(window.end), f"investigation (window from {iso(window.start)})"))
    return ordered


def least_privilege_policy(target: Target) -> str:
    """The image role's intended policy, for a put-role-policy fix."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadBucketParameter",
                    "Effect": "Allow",
                    "Action": "ssm:GetParameter",
                    "Resource": target.parameter_arn,
                },
                {"Sid": "ListImages", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": target.bucket_arn},
                {
                    "Sid": "ReadImages",
                    "Effect": "Allow",
                    "Action": "s3:GetObject",
                    "Resource": f"{target.bucket_arn}/*",
                },
            ],
        },
        separators=(",", ":"),
    )


def remediation(root: Hypothesis, evidence: Sequence[Evidence], target: Target) -> list[str]:
    """Exact commands that undo the root cause."""
    cited = [e for i in root.evidence if (e := _by_id(evidence).get(i))]
    if root.kind == "bucket_policy_deny":
        denies = [e for e in cited if e.source == "bucket_policy" and e.facts.get("deny")]
        if all(e.facts.get("injected") for e in denies):
            commands = ["python -m drill restore"]
            if target.fault_function:
                commands.append(
                    f"aws lambda invoke --function-name {target.fault_function} --cli-binary-format "
                    f"raw-in-base64-out --payload {shlex.quote(RESTORE_PAYLOAD)} /dev/stdout"
                )
            return commands
        remaining = next((e.facts.get("policy_without") for e in denies), None)
        if remaining is None:
            return [f"aws s3api delete-bucket-policy --bucket {target.bucket}"]
        return [f"aws s3api put-bucket-policy --bucket {target.bucket} --policy {shlex.quote(remaining)}"]
    if root.kind == "role_permission_missing":
        role = target.role_name or root.resource.rsplit("/", 1)[-1]
        commands = []
        for e in cited:
            if e.source != "role_policy" or e.facts.get("decision") != "explicitDeny":
                continue
            for label in e.facts.get("statements", []):
                if label.startswith("inline policy "):
                    name = label.removeprefix("inline policy ").split(" statement ")[0]
                    commands.append(f"aws iam delete-role-policy --role-name {role} --policy-name {shlex.quote(name)}")
                elif label.startswith("managed policy ") and e.facts.get("policy_arns"):
                    name = label.removeprefix("managed policy ").split(" statement ")[0]
                    arn = e.facts["policy_arns"].get(f"managed policy {name}")
                    if arn:
                        commands.append(f"aws iam detach-role-policy --role-name {role} --policy-arn {arn}")
        if any(e.source == "role_policy" and e.facts.get("decision") == "implicitDeny" for e in cited):
            commands.append("pulumi up  # re-applies the stack's least-privilege role policy")
            commands.append(
                f"aws iam put-role-policy --role-name {role} --policy-name image-api-access "
                f"--policy-document {shlex.quote(least_privilege_policy(target))}"
            )
        return list(dict.fromkeys(commands))
    if root.kind == "parameter_missing":
        return [f"aws ssm put-parameter --name {target.parameter_name} --type String --value {target.bucket}"]
    if root.kind == "parameter_wrong_bucket":
        return [
            f"aws ssm put-parameter --name {target.parameter_name} --type String --value {target.bucket} --overwrite"
        ]
    if root.kind == "no_images":
        if target.seeder_function:
            return [f"aws lambda invoke --function-name {target.seeder_function} /dev/stdout"]
        return [f"aws s3 cp ./images/ s3://{target.bucket}/ --recursive"]
    return [f"aws lambda delete-function-concurrency --function-name {target.function_name}"]


# Caveats a person should read next to the commands (markdown only).
REMEDIATION_NOTES = {
    "bucket_policy_deny": "A bucket-policy change made outside Pulumi is drift: `pulumi refresh` shows it. "
    "`python -m drill restore` removes only the AiopsFaultInjection* statements and waits for HTTP 200.",
    "role_permission_missing": "The role policy is managed by Pulumi: `pulumi refresh` shows the drift and "
    "`pulumi up` puts the stack's policy back.",
    "parameter_missing": "The image function caches the parameter for IMAGE_CACHE_TTL_SECONDS (default 60 s).",
    "parameter_wrong_bucket": "The image function caches the parameter for IMAGE_CACHE_TTL_SECONDS (default 60 s).",
    "no_images": "The seeder is idempotent; it writes the configured number of images (or bundled fallbacks).",
    "function_throttled": "Reserved concurrency is not managed by the stack; deleting it returns the function "
    "to the account's unreserved pool.",
}


def caveats(evidence: Sequence[Evidence]) -> list[str]:
    notes = [f"{e.source} was unavailable: {e.facts.get('reason')}" for e in evidence if not e.available]
    notes += [e.detail for e in evidence if e.source == "cloudtrail" and e.facts.get("summary")]
    if any(e.source == "cloudtrail" and not e.available for e in evidence):
        notes.append(
            "Without CloudTrail the actor and time of the change are unknown; the root cause rests on "
            "the current state of the resources."
        )
    return notes
