"""One typed, validated settings object for the whole program.

Every key is declared in Pulumi.yaml with the same default; `tests/test_config.py` keeps the two in
step. Defaults live here too because `pulumi.Config` only sees Pulumi.yaml defaults when the CLI runs
the program, not under unit-test mocks.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import pulumi

from components.names import name_problem, prefix_limits, prefix_problems

# The values CloudWatch Logs accepts for a log group's retention.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)

# Bedrock image model families, by model-id prefix. The seeder speaks one request schema per family.
IMAGE_MODEL_PREFIXES = ("stability.", "amazon.titan-image-generator", "amazon.nova-canvas")

# Lambda Invocations and API Gateway 5XXError are one-minute metrics: a 10 or 30 s period lapses into
# INSUFFICIENT_DATA between datapoints (and bills as a high-resolution alarm), so only whole minutes.
ALARM_PERIOD_HINT = "multiples of 60 from 60 to 86400"

DEFAULTS: dict[str, object] = {
    "imageCount": 5,
    "imageModelId": "stability.stable-image-core-v1:1",
    "imageCacheTtlSeconds": 60,
    "logRetentionDays": 7,
    "faultInjectionEnabled": True,
    "faultAlarmThreshold": 3,
    "faultAlarmPeriodSeconds": 60,
    "faultArmed": True,
    "apiGatewayAccountRole": True,
    "apiDataTrace": False,
    "apiThrottlingBurstLimit": 50,
    "apiThrottlingRateLimit": 100,
    "apiAlarmPeriodSeconds": 60,
    "investigationsEnabled": True,
    "investigationRetentionDays": 30,
    "investigationGroupArn": "",
    "applicationSignalsEnabled": False,
    "adotLayerArn": "",
    # Partial faults (issue 20): the API latency alarm, and the FIS experiments on the image function.
    "apiLatencyAlarmThresholdMs": 2000,
    "fisEnabled": False,
    "fisLatencyDelayMilliseconds": 3000,
    "fisLatencyPercentage": 20,
    "fisLatencyDurationMinutes": 5,
    "fisErrorsPercentage": 20,
    "fisErrorsDurationMinutes": 5,
    "fisGuardErrorRatePercent": 50,
    "namePrefix": "",
    "sharedStack": "",
}

# The FIS limits the settings respect: an action lasts at most 12 hours (quota "Action duration in hours",
# https://docs.aws.amazon.com/fis/latest/userguide/fis-quotas.html); `startupDelayMilliseconds` may be up to
# 900000, but a delay is spent inside the invocation, so it must stay below the image function's 30 s timeout
# and API Gateway's 29 s integration timeout
# (https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html#invocation-add-delay,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html), or it becomes an error experiment.
FIS_MAX_DURATION_MINUTES = 720
FIS_MAX_DELAY_MILLISECONDS = 20000


@dataclass(frozen=True)
class Settings:
    """Everything the components need from configuration, already validated."""

    project: str
    stack: str
    region: str
    image_count: int
    image_model_id: str
    image_cache_ttl_seconds: int
    log_retention_days: int
    fault_injection_enabled: bool
    fault_alarm_threshold: int
    fault_alarm_period_seconds: int
    fault_armed: bool  # the invocations alarm's actions_enabled: whether it may run the fault after deploy
    api_gateway_account_role: bool
    api_data_trace: bool
    api_throttling_burst_limit: int
    api_throttling_rate_limit: int
    api_alarm_period_seconds: int
    investigations_enabled: bool
    investigation_retention_days: int
    investigation_group_arn: str
    application_signals_enabled: bool
    adot_layer_arn: str
    # Partial faults (issue 20).
    api_latency_alarm_threshold_ms: int  # the API's p99 Latency over one minute that sets off the latency alarm
    fis_enabled: bool
    fis_latency_delay_milliseconds: int
    fis_latency_percentage: int
    fis_latency_duration_minutes: int
    fis_errors_percentage: int
    fis_errors_duration_minutes: int
    fis_guard_error_rate_percent: int  # the error rate (%) that stops an experiment: more harm than planned
    # Config namePrefix ("": "<project>-<stack>"); `prefix` is the one every explicit physical name starts with.
    name_prefix: str
    # "org/project/stack" of the stack that owns the account-and-region-wide resources (investigation group,
    # API Gateway account role); empty when this stack owns them itself.
    shared_stack: str

    @property
    def prefix(self) -> str:
        """Prefix of every explicit physical name (components/names.py), validated against all of them at
        preview: namePrefix, else "<project>-<stack>". Stacks with disjoint prefixes can share an account."""
        return self.name_prefix or f"{self.project}-{self.stack}"


def _int(config: pulumi.Config, key: str, *, low: int, high: int) -> int:
    value = config.get_int(key)
    value = DEFAULTS[key] if value is None else value
    if not low <= value <= high:
        raise ValueError(f"config {config.name}:{key} = {value}: allowed values are {low} to {high}")
    return value


def _one_of(config: pulumi.Config, key: str, allowed: Collection[int]) -> int:
    value = config.get_int(key)
    value = DEFAULTS[key] if value is None else value
    if value not in allowed:
        raise ValueError(f"config {config.name}:{key} = {value}: allowed values are {', '.join(map(str, allowed))}")
    return value


def _bool(config: pulumi.Config, key: str) -> bool:
    value = config.get_bool(key)
    return DEFAULTS[key] if value is None else value


def _str(config: pulumi.Config, key: str) -> str:
    value = config.get(key)
    return DEFAULTS[key] if value is None else value.strip()


def _alarm_period(config: pulumi.Config, key: str) -> int:
    value = config.get_int(key)
    value = DEFAULTS[key] if value is None else value
    if not 60 <= value <= 86400 or value % 60:
        raise ValueError(f"config {config.name}:{key} = {value}: allowed values are {ALARM_PERIOD_HINT}")
    return value


def _region() -> str:
    region = pulumi.Config("aws").get("region")
    if not region:
        raise ValueError(
            "config aws:region is not set: set it for this stack, e.g. `pulumi config set aws:region us-west-2`"
        )
    # The investigation group and Application Signals use the aws-native provider: one region for both.
    native_region = pulumi.Config("aws-native").get("region")
    if native_region and native_region != region:
        raise ValueError(f"config aws-native:region = {native_region}: allowed value is aws:region ({region})")
    return region


def _name_prefix(config: pulumi.Config, project: str, stack: str) -> str:
    """namePrefix as configured; refused unless it (or "<project>-<stack>" when empty) makes every explicit
    name AWS accepts."""
    configured = _str(config, "namePrefix")
    prefix = configured or f"{project}-{stack}"
    problems = prefix_problems(prefix)
    if not problems:
        return configured
    limits = prefix_limits()
    # Name the tightest name when it is one of those that break: it says how far over the limit the prefix is.
    problem = name_problem(limits.tightest, prefix) or problems[0]
    allowed = (
        f"allowed values are 1 to {limits.max_length} characters of {limits.characters} "
        f"(the longest name built from it is {limits.tightest.template!r}, a {limits.tightest.rule.kind})"
    )
    if configured:
        raise ValueError(f"config {config.name}:namePrefix = {configured!r}: {allowed}; {problem}")
    raise ValueError(
        f"stack name {stack!r} makes the default name prefix {prefix!r}, and {problem}: set config "
        f"{config.name}:namePrefix (`pulumi config set namePrefix <short-name>`); {allowed}"
    )


# A fully-qualified stack name: organization/project/stack (DIY backends use the organization "organization").
_STACK_PART = r"[A-Za-z0-9_.-]+"


def _shared_stack(config: pulumi.Config, project: str) -> str:
    shared = _str(config, "sharedStack")
    parts = shared.split("/")
    if shared and (len(parts) != 3 or not all(re.fullmatch(_STACK_PART, part) for part in parts)):
        raise ValueError(
            f"config {config.name}:sharedStack = {shared!r}: allowed values are an empty string (this stack owns "
            f"the account-wide resources) or a fully-qualified stack name, organization/{project}/stack"
        )
    if shared and parts[1] != project:
        raise ValueError(
            f"config {config.name}:sharedStack = {shared!r}: the shared stack must be a stack of this program "
            f"({project}), whose outputs this stack reads: organization/{project}/stack"
        )
    return shared


def _account_role(config: pulumi.Config, shared_stack: str) -> bool:
    """apiGatewayAccountRole, which a stack with sharedStack must leave to the shared stack.

    The Pulumi CLI applies Pulumi.yaml's default (true) before the program runs, so "not set" cannot be told
    from "set to true" here: with sharedStack, the value must be false.
    """
    value = _bool(config, "apiGatewayAccountRole")
    if shared_stack and value:
        raise ValueError(
            f"config {config.name}:sharedStack = {shared_stack!r} and {config.name}:apiGatewayAccountRole = true "
            "conflict: the shared stack owns the account's API Gateway CloudWatch role; set apiGatewayAccountRole "
            "to false (`pulumi config set apiGatewayAccountRole false`)"
        )
    return value


def load_settings() -> Settings:
    """Read and validate the stack's configuration. Raises ValueError naming the offending key."""
    config = pulumi.Config()
    model_id = _str(config, "imageModelId")
    if not model_id.startswith(IMAGE_MODEL_PREFIXES):
        raise ValueError(
            f"config {config.name}:imageModelId = {model_id!r}: allowed values are Bedrock image model ids "
            f"starting with {', '.join(IMAGE_MODEL_PREFIXES)}"
        )
    project, stack = pulumi.get_project(), pulumi.get_stack()
    shared_stack = _shared_stack(config, project)
    settings = Settings(
        project=project,
        stack=stack,
        region=_region(),
        image_count=_int(config, "imageCount", low=1, high=20),
        image_model_id=model_id,
        image_cache_ttl_seconds=_int(config, "imageCacheTtlSeconds", low=0, high=3600),
        log_retention_days=_one_of(config, "logRetentionDays", LOG_RETENTION_DAYS),
        fault_injection_enabled=_bool(config, "faultInjectionEnabled"),
        fault_alarm_threshold=_int(config, "faultAlarmThreshold", low=1, high=1000),
        fault_alarm_period_seconds=_alarm_period(config, "faultAlarmPeriodSeconds"),
        fault_armed=_bool(config, "faultArmed"),
        api_gateway_account_role=_account_role(config, shared_stack),
        api_data_trace=_bool(config, "apiDataTrace"),
        api_throttling_burst_limit=_int(config, "apiThrottlingBurstLimit", low=0, high=5000),
        api_throttling_rate_limit=_int(config, "apiThrottlingRateLimit", low=0, high=10000),
        api_alarm_period_seconds=_alarm_period(config, "apiAlarmPeriodSeconds"),
        investigations_enabled=_bool(config, "investigationsEnabled"),
        investigation_retention_days=_int(config, "investigationRetentionDays", low=7, high=90),
        investigation_group_arn=_str(config, "investigationGroupArn"),
        application_signals_enabled=_bool(config, "applicationSignalsEnabled"),
        adot_layer_arn=_str(config, "adotLayerArn"),
        **_partial_fault_settings(config),
        name_prefix=_name_prefix(config, project, stack),
        shared_stack=shared_stack,
    )
    _check_partial_faults(config, settings)
    if settings.application_signals_enabled and not settings.adot_layer_arn:
        raise ValueError(
            f"config {config.name}:adotLayerArn is required when applicationSignalsEnabled is true: use the "
            "AWSOpenTelemetryDistroPython layer ARN for your region, listed in the CloudWatch "
            "Application Signals guide: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
            "CloudWatch-Application-Signals-Enable-Lambda.html"
        )
    group_arn = settings.investigation_group_arn
    if shared_stack and group_arn:
        raise ValueError(
            f"config {config.name}:sharedStack = {shared_stack!r} and {config.name}:investigationGroupArn = "
            f"{group_arn!r} conflict: with sharedStack the 5XX alarm uses the shared stack's investigation group; "
            "leave investigationGroupArn empty (`pulumi config rm investigationGroupArn`)"
        )
    if group_arn and (not group_arn.startswith("arn:") or group_arn.split(":")[3:4] != [settings.region]):
        raise ValueError(
            f"config {config.name}:investigationGroupArn = {settings.investigation_group_arn!r}: allowed values "
            f"are an empty string (create a group) or the ARN of an existing investigation group in {settings.region}"
        )
    return settings


def _partial_fault_settings(config: pulumi.Config) -> dict[str, object]:
    """The latency alarm's and the FIS experiments' settings (issue 20), each in range."""
    return {
        "api_latency_alarm_threshold_ms": _int(config, "apiLatencyAlarmThresholdMs", low=100, high=29000),
        "fis_enabled": _bool(config, "fisEnabled"),
        "fis_latency_delay_milliseconds": _int(
            config, "fisLatencyDelayMilliseconds", low=100, high=FIS_MAX_DELAY_MILLISECONDS
        ),
        "fis_latency_percentage": _int(config, "fisLatencyPercentage", low=1, high=100),
        "fis_latency_duration_minutes": _int(config, "fisLatencyDurationMinutes", low=1, high=FIS_MAX_DURATION_MINUTES),
        # Below 99: the guard must be able to stand above the planned share (see fisGuardErrorRatePercent).
        "fis_errors_percentage": _int(config, "fisErrorsPercentage", low=1, high=98),
        "fis_errors_duration_minutes": _int(config, "fisErrorsDurationMinutes", low=1, high=FIS_MAX_DURATION_MINUTES),
        # A rate alarm "greater than 100 %" could never fire.
        "fis_guard_error_rate_percent": _int(config, "fisGuardErrorRatePercent", low=2, high=99),
    }


def _check_partial_faults(config: pulumi.Config, settings: Settings) -> None:
    """What holds between the settings once FIS is on: one exec wrapper, a guard above the planned error share,
    a delay the latency alarm can see."""
    if not settings.fis_enabled:
        return
    if settings.application_signals_enabled:
        # Both instrumentations are an AWS_LAMBDA_EXEC_WRAPPER, and a function has one: neither may be dropped.
        raise ValueError(
            f"config {config.name}:fisEnabled and {config.name}:applicationSignalsEnabled are both true: the image "
            "function takes one AWS_LAMBDA_EXEC_WRAPPER (the FIS extension's or Application Signals'); allowed "
            "values are at most one of them true"
        )
    if settings.fis_guard_error_rate_percent <= settings.fis_errors_percentage:
        raise ValueError(
            f"config {config.name}:fisGuardErrorRatePercent = {settings.fis_guard_error_rate_percent}: allowed values "
            f"are above {config.name}:fisErrorsPercentage ({settings.fis_errors_percentage}) up to 99; a guard at or "
            "below the planned share would stop the errors experiment as soon as it works"
        )
    if settings.fis_latency_delay_milliseconds < settings.api_latency_alarm_threshold_ms:
        raise ValueError(
            f"config {config.name}:fisLatencyDelayMilliseconds = {settings.fis_latency_delay_milliseconds}: allowed "
            f"values are {config.name}:apiLatencyAlarmThresholdMs ({settings.api_latency_alarm_threshold_ms}) to "
            f"{FIS_MAX_DELAY_MILLISECONDS}; a smaller delay never sets off the latency alarm the drill waits for"
        )
