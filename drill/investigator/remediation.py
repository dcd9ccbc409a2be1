"""The exact commands that undo each root cause, and the caveats a person reads next to them."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from drill.investigator.collectors.api_stage import ROUTE_SETTINGS, STACK_DEFAULTS
from drill.investigator.model import Evidence, Hypothesis, Target

RESTORE_PAYLOAD = json.dumps({"action": "restore"}, separators=(",", ":"))
PERMISSION_SID = "AllowApiGatewayInvokeRandom"
# The trust policy the stack gives the function's role (components/iam.py service_trust_policy for
# lambda.amazonaws.com; tests/test_drill_investigator_v3.py proves the two equal).
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def _cited(root: Hypothesis, evidence: Sequence[Evidence]) -> list[Evidence]:
    by_id = {e.id: e for e in evidence}
    return [e for i in root.evidence if (e := by_id.get(i))]


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


def _bucket_policy(cited: list[Evidence], target: Target) -> list[str]:
    denies = [e for e in cited if e.source == "bucket_policy" and e.facts.get("deny")]
    if all(e.facts.get("injected") for e in denies):
        commands = ["python -m drill restore"]
        if target.fault_function:
            commands.append(
                f"aws lambda invoke --function-name {target.fault_function} --cli-binary-format "
                f"raw-in-base64-out --payload {shlex.quote(RESTORE_PAYLOAD)} /dev/stdout"
            )
        return commands
    # Put the policy back without the blamed statements, everything else kept exactly (the TLS-only
    # statement, other principals' grants). Only a policy with nothing else left is deleted.
    certain = any(e.facts.get("certain") for e in denies)
    field = "policy_without" if certain else "policy_without_possible"
    commands = [] if certain else [f"# only if the condition of {_sids(denies)} applies to the image function"]
    remaining = next((e.facts.get(field) for e in denies), None)
    if remaining is None:
        return [*commands, f"aws s3api delete-bucket-policy --bucket {target.bucket}"]
    return [*commands, f"aws s3api put-bucket-policy --bucket {target.bucket} --policy {shlex.quote(remaining)}"]


def _sids(denies: list[Evidence]) -> str:
    return ", ".join(str(e.facts.get("sid") or f"#{e.facts.get('index')}") for e in denies)


def _role(root: Hypothesis, cited: list[Evidence], target: Target) -> list[str]:
    role = target.role_name or root.resource.rsplit("/", 1)[-1]
    commands = []
    verdicts = [e for e in cited if e.source == "role_policy"]
    if any(e.facts.get("boundary") for e in verdicts):
        # The stack sets no permissions boundary: the one found is not the stack's.
        commands.append(f"aws iam delete-role-permissions-boundary --role-name {role}")
    for e in verdicts:
        if e.facts.get("decision") != "explicitDeny":
            continue
        for label in e.facts.get("statements", []):
            policy = label.split(" statement ")[0]
            if policy.startswith("inline policy "):
                name = policy.removeprefix("inline policy ")
                commands.append(f"aws iam delete-role-policy --role-name {role} --policy-name {shlex.quote(name)}")
            elif policy.startswith("managed policy ") and (arn := e.facts.get("policy_arns", {}).get(policy)):
                commands.append(f"aws iam detach-role-policy --role-name {role} --policy-arn {arn}")
    if any(e.facts.get("decision") == "implicitDeny" and not e.facts.get("boundary") for e in verdicts):
        commands.append("pulumi up  # re-applies the stack's least-privilege role policy")
        commands.append(
            f"aws iam put-role-policy --role-name {role} --policy-name image-api-access "
            f"--policy-document {shlex.quote(least_privilege_policy(target))}"
        )
    return list(dict.fromkeys(commands))


def _api_permission(target: Target) -> list[str]:
    source_arn = target.invoke_source_arn(stage="*")
    return [
        "pulumi up  # re-creates the stack's lambda permission for the API",
        f"aws lambda add-permission --function-name {target.function_name} --statement-id {PERMISSION_SID} "
        f"--action lambda:InvokeFunction --principal apigateway.amazonaws.com --source-arn {source_arn} "
        f"--source-account {target.account}",
    ]


def _environment(cited: list[Evidence], target: Target) -> list[str]:
    state = next((e for e in cited if e.source == "function" and e.facts.get("env_matches") is False), None)
    variables = dict(state.facts.get("variables") or {}) if state else {}
    variables[state.facts["variable"] if state else "BUCKET_NAME_PARAMETER"] = target.parameter_name
    # --environment replaces every variable: the others are passed back unchanged.
    environment = json.dumps({"Variables": variables}, separators=(",", ":"), sort_keys=True)
    return [
        "pulumi up  # re-applies the stack's function configuration",
        f"aws lambda update-function-configuration --function-name {target.function_name} "
        f"--environment {shlex.quote(environment)}",
    ]


def _role_swap(cited: list[Evidence], target: Target) -> list[str]:
    declared = next((e.facts["expected"] for e in cited if e.source == "function" and e.facts.get("expected")), None)
    return [
        "pulumi up  # re-applies the stack's function configuration",
        f"aws lambda update-function-configuration --function-name {target.function_name} "
        f"--role {declared or target.declared_role_arn}",
    ]


def _throttle(root: Hypothesis, cited: list[Evidence], target: Target) -> list[str]:
    state = next((e for e in cited if e.source == "api"), None)
    facts = state.facts if state else {}
    api, stage = facts.get("api", root.resource), facts.get("stage", target.api_stage)
    operations = []
    for limit, where in (("rateLimit", facts.get("rate_from")), ("burstLimit", facts.get("burst_from"))):
        path = f"/{ROUTE_SETTINGS}" if where == ROUTE_SETTINGS else "/*/*"
        operations.append(f"op=replace,path={path}/throttling/{limit},value={STACK_DEFAULTS[limit]:g}")
    return [
        "pulumi up  # re-applies apiThrottlingRateLimit/apiThrottlingBurstLimit to the stage's */* settings",
        f"aws apigateway update-stage --rest-api-id {api} --stage-name {stage} --patch-operations "
        + " ".join(operations),
    ]


def _next_checks(target: Target) -> list[str]:
    """For `unknown`: no fix is known, these look where the investigator could not."""
    return [
        f"aws logs tail {target.log_group} --since 30m",
        "aws health describe-events --filter services=LAMBDA,APIGATEWAY,S3,SSM,eventStatusCodes=open",
        f"aws organizations list-policies-for-target --target-id {target.account} --filter SERVICE_CONTROL_POLICY",
    ]


def remediation(root: Hypothesis, evidence: Sequence[Evidence], target: Target) -> list[str]:
    """Exact commands that undo the root cause (for `unknown`: the next places to look)."""
    cited = _cited(root, evidence)
    simple = {
        "parameter_missing": [
            f"aws ssm put-parameter --name {target.parameter_name} --type String --value {target.bucket}"
        ],
        "parameter_wrong_bucket": [
            f"aws ssm put-parameter --name {target.parameter_name} --type String --value {target.bucket} --overwrite"
        ],
        "no_images": [f"aws lambda invoke --function-name {target.seeder_function} /dev/stdout"]
        if target.seeder_function
        else [f"aws s3 cp ./images/ s3://{target.bucket}/ --recursive"],
        "function_throttled": [f"aws lambda delete-function-concurrency --function-name {target.function_name}"],
    }
    if root.kind in simple:
        return simple[root.kind]
    if root.kind == "bucket_policy_deny":
        return _bucket_policy(cited, target)
    if root.kind == "role_permission_missing":
        return _role(root, cited, target)
    if root.kind == "api_permission_missing":
        return _api_permission(target)
    if root.kind == "function_environment_changed":
        return _environment(cited, target)
    if root.kind == "function_role_changed":
        return _role_swap(cited, target)
    if root.kind == "api_throttled":
        return _throttle(root, cited, target)
    if root.kind == "function_configuration_changed":
        return ["pulumi up  # puts the stack's declared function configuration back"]
    if root.kind == "role_trust_broken":
        trust = json.dumps(LAMBDA_TRUST, separators=(",", ":"))
        return [
            "pulumi up  # re-applies the stack's trust policy of the function's role",
            f"aws iam update-assume-role-policy --role-name {root.resource.rsplit('/', 1)[-1]} "
            f"--policy-document {shlex.quote(trust)}",
        ]
    if root.kind in ("fis_latency_injected", "fis_errors_injected"):
        return _experiments(cited, target)
    return _next_checks(target)


def _experiments(cited: list[Evidence], target: Target) -> list[str]:
    """Stop the experiments that act now; configuration left without one is deleted from its location."""
    running = sorted({str(e.facts["experiment"]) for e in cited if e.source == "experiments" and e.facts.get("active")})
    if running:
        return ["python -m drill restore", *(f"aws fis stop-experiment --id {i}" for i in running)]
    if any(e.facts.get("experiment") for e in cited):
        return ["# the experiment has ended: nothing to stop; the extension stops injecting within about 20 s"]
    where = next((str(e.facts["location"]) for e in cited if e.facts.get("configuration")), None)
    bucket, _, prefix = (where or "").removeprefix("arn:aws:s3:::").partition("/")
    return [f"aws s3 rm s3://{bucket}/{prefix} --recursive"] if where else _next_checks(target)


# Caveats a person should read next to the commands (markdown only).
REMEDIATION_NOTES = {
    "bucket_policy_deny": "A bucket-policy change made outside Pulumi is drift: `pulumi refresh` shows it. "
    "`python -m drill restore` removes exactly the fault injector's two statements (a look-alike Sid is kept) "
    "and waits for HTTP 200.",
    "role_permission_missing": "The role policy is managed by Pulumi: `pulumi refresh` shows the drift and "
    "`pulumi up` puts the stack's policy back.",
    "parameter_missing": "The image function caches the parameter for IMAGE_CACHE_TTL_SECONDS (default 60 s).",
    "parameter_wrong_bucket": "The image function caches the parameter for IMAGE_CACHE_TTL_SECONDS (default 60 s).",
    "no_images": "The seeder is idempotent; it writes the configured number of images (or bundled fallbacks).",
    "function_throttled": "Reserved concurrency is not managed by the stack; deleting it returns the function "
    "to the account's unreserved pool.",
    "api_permission_missing": "The permission is managed by Pulumi: `pulumi up` re-creates it. The CLI command "
    "adds the same statement (remove a wrong one first with `aws lambda remove-permission`).",
    "function_environment_changed": "The function's configuration is managed by Pulumi: `pulumi up` puts the "
    "stack's environment back. `--environment` replaces every variable; the command passes the others back.",
    "function_role_changed": "The function's configuration is managed by Pulumi: `pulumi up` puts the stack's "
    "role back.",
    "api_throttled": "Stage-wide limits come from config apiThrottlingRateLimit/apiThrottlingBurstLimit (defaults "
    "100/50); a per-route override is not the stack's, so the command overwrites it with the same defaults.",
    "function_configuration_changed": "The function's configuration is managed by Pulumi: `pulumi up` puts "
    "the declared handler, runtime, layers, timeout and memory back.",
    "role_trust_broken": "The role's trust policy is managed by Pulumi: `pulumi refresh` shows the drift and "
    "`pulumi up` puts it back.",
    "fis_latency_injected": "Stopping an experiment makes FIS delete its configuration; the extension stops "
    "injecting within its ramp-down (up to about 20 s) and the metrics follow a minute or two later.",
    "fis_errors_injected": "Stopping an experiment makes FIS delete its configuration; the extension stops "
    "injecting within its ramp-down (up to about 20 s) and the metrics follow a minute or two later.",
    "unknown": "No fix is known: the commands look where the investigator could not (the function's logs, "
    "AWS Health, the organization's SCPs from its management account).",
}
