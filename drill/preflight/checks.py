"""The preflight checks: each reads the account (never writes) and returns one row with its fix.

A check the endpoint does not implement, or that the caller may not run, is a warning that says so: it is
never a pass, and never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

from drill import outputs
from drill.aws import SOURCE_ERRORS, Clients, error_code
from drill.investigator.model import APPLICATION_TAG_KEYS
from drill.preflight.plan import ACCOUNT_SETTING, INVESTIGATION_GROUP, Plan, PlannedName

Status = Literal["ok", "warning", "blocking"]
# The tags every resource of a stack carries (components/providers.py; tests/test_drill_preflight.py keeps them
# equal): the NamePrefix tag has its output's name.
APPLICATION_TAG, STACK_TAG = APPLICATION_TAG_KEYS
NAME_PREFIX_TAG = outputs.NAME_PREFIX
OWNER_TAGS = (APPLICATION_TAG, STACK_TAG, NAME_PREFIX_TAG)
NOT_FOUND = {"ResourceNotFoundException", "ResourceNotFound", "ParameterNotFound", "NotFoundException"}
# New accounts may start with a reduced concurrency quota, shared by every stack in the account and region
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html); 10 is the smallest seen.
NEW_ACCOUNT_CONCURRENCY = 10
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class Context:
    clients: Clients
    # The program's plan, still being made while the account checks read AWS: they wait for it only to judge.
    planned: Future[Plan]
    settings: dict[str, str]  # the stack's configuration, fully-qualified keys
    project: str
    stack: str
    region: str
    account: str

    @property
    def plan(self) -> Plan:
        return self.planned.result()

    def setting(self, key: str) -> str:
        return self.settings.get(self.key(key), "")

    @property
    def prefix(self) -> str:
        return self.setting("namePrefix") or f"{self.project}-{self.stack}"

    def key(self, name: str) -> str:
        return f"{self.project}:{name}"


def cannot_run(name: str, err: Exception, what: str) -> Check:
    """The row for a check the endpoint refused or does not implement."""
    return Check(name, "warning", f"could not check {what}: {error_code(err)} (not implemented here, or denied)")


def investigation_group(ctx: Context) -> Check:
    name = "investigation group"
    try:
        groups = ctx.clients.client("aiops").list_investigation_groups().get("investigationGroups", [])
    except SOURCE_ERRORS as err:
        if type(err).__name__ == "EndpointConnectionError":
            return Check(name, "warning", f"no CloudWatch investigations endpoint in {ctx.region}")
        return cannot_run(name, err, "the region's investigation group (aiops:ListInvestigationGroups)")
    existing = ", ".join(group.get("arn", group.get("name", "?")) for group in groups)
    if not ctx.plan.creates(INVESTIGATION_GROUP):
        detail = f"this stack creates no group; the account has {existing or 'none'}"
        return Check(name, "ok", detail)
    if not groups:
        return Check(
            name, "ok", f"CloudWatch investigations are offered in {ctx.region}; no group yet: this stack creates it"
        )
    return Check(
        name,
        "blocking",
        f"the account already has an investigation group in {ctx.region} ({existing}); there is one per account "
        "and region, and this stack would create another",
        f"set {ctx.key('sharedStack')} to the stack that owns it, or {ctx.key('investigationGroupArn')} to {existing}",
    )


def api_gateway_account(ctx: Context) -> Check:
    name = "API Gateway account role"
    try:
        role = ctx.clients.client("apigateway").get_account().get("cloudwatchRoleArn")
    except SOURCE_ERRORS as err:
        return cannot_run(name, err, "the API Gateway account settings (apigateway:GetAccount)")
    sets_it = ctx.plan.creates(ACCOUNT_SETTING)
    if role and sets_it:
        return Check(
            name,
            "blocking",
            f"the account already has a CloudWatch role for API Gateway ({role}); this stack would replace it for "
            "every API in the account and region",
            f"pulumi config set {ctx.key('apiGatewayAccountRole')} false (or set {ctx.key('sharedStack')})",
        )
    if not role and not sets_it:
        return Check(
            name,
            "blocking",
            "the account has no CloudWatch role for API Gateway, and this stack sets none: the stage's logging fails",
            f"deploy the shared stack first, or pulumi config set {ctx.key('apiGatewayAccountRole')} true",
        )
    return Check(name, "ok", f"set to {role}" if role else "none yet: this stack sets it")


def concurrency(ctx: Context) -> Check:
    name = "Lambda concurrency"
    try:
        limits = ctx.clients.lambda_.get_account_settings()["AccountLimit"]
    except SOURCE_ERRORS as err:
        return cannot_run(name, err, "Lambda's account settings (lambda:GetAccountSettings)")
    total, unreserved = limits.get("ConcurrentExecutions", 0), limits.get("UnreservedConcurrentExecutions", 0)
    detail = f"{unreserved} of {total} concurrent executions unreserved"
    if total <= NEW_ACCOUNT_CONCURRENCY:
        return Check(
            name,
            "warning",
            f"{detail}: every stack in the account shares them, so the drill's invocations may be throttled (429)",
            f"request more Lambda 'Concurrent executions' in the Service Quotas console ({LAMBDA_QUOTAS})",
        )
    return Check(name, "ok", detail)


def image_model(ctx: Context) -> Check:
    name = "image model access"
    model = ctx.setting("imageModelId")
    try:
        found = ctx.clients.client("bedrock").get_foundation_model_availability(modelId=model)
    except SOURCE_ERRORS as err:
        return cannot_run(name, err, f"access to {model} (bedrock:GetFoundationModelAvailability)")
    missing = [
        label
        for label, ok in (
            ("offered in this region", found.get("regionAvailability") == "AVAILABLE"),
            ("the caller is authorized", found.get("authorizationStatus") == "AUTHORIZED"),
            ("the account is entitled", found.get("entitlementAvailability") == "AVAILABLE"),
            ("its agreement is accepted", (found.get("agreementAvailability") or {}).get("status") == "AVAILABLE"),
        )
        if not ok
    ]
    if not missing:
        return Check(name, "ok", f"{model} is available to this account")
    return Check(
        name,
        "warning",
        f"{model}: not yet {', '.join(missing)}; the seeder falls back to its bundled sample images",
        "enable the model once per account (Bedrock console, Model access), or set imageModelId to one you have",
    )


# --------------------------------------------------------------------------------------------- names
def _tags_of(ctx: Context, planned: PlannedName, found: dict[str, Any]) -> dict[str, str]:
    """The owner's tags, where the service answers them (an empty dict otherwise)."""
    try:
        if planned.kind == "Lambda function":
            return found.get("Tags") or {}
        if planned.kind == "log group":
            return ctx.clients.logs.list_tags_log_group(logGroupName=planned.name).get("tags", {})
        if planned.kind in ("alarm", "dashboard"):
            arn = found.get("AlarmArn") or found.get("DashboardArn")
            tags = ctx.clients.cloudwatch.list_tags_for_resource(ResourceARN=arn).get("Tags", [])
            return {tag["Key"]: tag["Value"] for tag in tags}
        if planned.kind == "parameter":
            answer = ctx.clients.ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=planned.name)
            return {tag["Key"]: tag["Value"] for tag in answer.get("TagList", [])}
    except SOURCE_ERRORS:
        pass
    return {}


def _existing(ctx: Context, planned: PlannedName) -> dict[str, Any] | None:
    """What holds that name now (None when it is free). Raises the service's error when it cannot tell."""
    c = ctx.clients
    try:
        if planned.kind == "Lambda function":
            return c.lambda_.get_function(FunctionName=planned.name)
        if planned.kind == "log group":
            groups = c.logs.describe_log_groups(logGroupNamePrefix=planned.name).get("logGroups", [])
            return next((g for g in groups if g["logGroupName"] == planned.name), None)
        if planned.kind == "alarm":
            return next(iter(c.cloudwatch.describe_alarms(AlarmNames=[planned.name]).get("MetricAlarms", [])), None)
        if planned.kind == "dashboard":
            return c.cloudwatch.get_dashboard(DashboardName=planned.name)
        if planned.kind == "parameter":
            return c.ssm.get_parameter(Name=planned.name)["Parameter"]
        if planned.kind == "REST API":
            apis = c.client("apigateway").get_rest_apis(limit=500).get("items", [])
            return next((api for api in apis if api.get("name") == planned.name), None)
    except SOURCE_ERRORS as err:
        if error_code(err) in NOT_FOUND:
            return None
        raise
    return None


def name_check(ctx: Context, planned: PlannedName) -> Check:
    label = f"{planned.kind} {planned.name}"
    try:
        found = _existing(ctx, planned)
    except SOURCE_ERRORS as err:
        return cannot_run(label, err, f"whether the {planned.kind} name is taken")
    if found is None:
        return Check(label, "ok", "free")
    tags = found.get("tags") if planned.kind == "REST API" else _tags_of(ctx, planned, found)
    tags = tags or {}
    owner = ", ".join(f"{key}={tags[key]}" for key in OWNER_TAGS if key in tags) or "no Application/Stack tags"
    ours = tags.get(APPLICATION_TAG) == ctx.project and tags.get(STACK_TAG) == ctx.stack
    if ours and tags.get(NAME_PREFIX_TAG, ctx.prefix) == ctx.prefix:
        return Check(label, "ok", f"exists, tagged as this stack's ({owner}): `pulumi up` updates it")
    if planned.kind == "REST API":  # API Gateway allows two APIs of one name; their metrics would mix
        return Check(
            label,
            "warning",
            f"another REST API has this name ({owner}); its ApiName metrics and this stack's would be one series",
            f"pulumi config set {ctx.key('namePrefix')} <your-own-prefix>",
        )
    return Check(
        label,
        "blocking",
        f"taken ({owner}): `pulumi up` would fail on it, or take it over",
        f"pulumi config set {ctx.key('namePrefix')} <your-own-prefix> (e.g. your name and -lab)",
    )


ACCOUNT_CHECKS: tuple[Callable[[Context], Check], ...] = (
    investigation_group,
    api_gateway_account,
    concurrency,
    image_model,
)
