"""aiops-demo: a small image service and everything needed to rehearse an incident on it."""

import pulumi

from components.api_logging import ApiLogging, ApiLoggingArgs
from components.config import load_settings
from components.drill_support import DrillSupport, DrillSupportArgs
from components.fault_injection import FaultInjection, FaultInjectionArgs
from components.function import Instrumentation
from components.image_service import ImageService, ImageServiceArgs
from components.observability import Observability, ObservabilityArgs, application_signals_instrumentation
from components.providers import application_tags, stack_providers

settings = load_settings()
# Every component builds on these providers: one region, and the application tags on every taggable resource.
providers = stack_providers(settings.region, application_tags(settings.project, settings.stack))

# Built before the image service: its stage logs to this group and waits for the account's log role.
api_logging = ApiLogging(
    "api-logging",
    ApiLoggingArgs(
        prefix=settings.prefix,
        log_retention_days=settings.log_retention_days,
        account_role=settings.api_gateway_account_role,
    ),
    opts=providers.options,
)
images = ImageService(
    "images",
    ImageServiceArgs(
        prefix=settings.prefix,
        region=settings.region,
        image_count=settings.image_count,
        image_model_id=settings.image_model_id,
        image_cache_ttl_seconds=settings.image_cache_ttl_seconds,
        log_retention_days=settings.log_retention_days,
        stage_access_log=api_logging.stage_access_log,
        stage_depends_on=api_logging.stage_depends_on,
        api_instrumentation=application_signals_instrumentation(settings.adot_layer_arn)
        if settings.application_signals_enabled
        else Instrumentation(),
    ),
    opts=providers.options,
)
fault = (
    FaultInjection(
        "fault",
        FaultInjectionArgs(
            prefix=settings.prefix,
            bucket=images.bucket,
            target_function=images.api_function,
            log_retention_days=settings.log_retention_days,
            region=settings.region,
            threshold=settings.fault_alarm_threshold,
            period_seconds=settings.fault_alarm_period_seconds,
            armed=settings.fault_armed,
        ),
        opts=providers.options,
    )
    if settings.fault_injection_enabled
    else None
)
observability = Observability(
    "observability",
    ObservabilityArgs(
        prefix=settings.prefix,
        region=settings.region,
        service=images,
        api_logging=api_logging,
        log_retention_days=settings.log_retention_days,
        invocations_alarm_arn=fault.alarm.arn if fault else None,
        api_data_trace=settings.api_data_trace,
        throttling_burst_limit=settings.api_throttling_burst_limit,
        throttling_rate_limit=settings.api_throttling_rate_limit,
        api_alarm_period_seconds=settings.api_alarm_period_seconds,
        investigations_enabled=settings.investigations_enabled,
        investigation_retention_days=settings.investigation_retention_days,
        investigation_group_arn=settings.investigation_group_arn,
        application_signals_enabled=settings.application_signals_enabled,
    ),
    opts=providers.options,
)
drill_support = DrillSupport(
    "drill",
    DrillSupportArgs(
        prefix=settings.prefix,
        region=settings.region,
        bucket_arn=images.bucket.arn,
        function_role_arn=images.api_function.role.arn,
        rest_api_id=images.rest_api.id,
        invocations_alarm_name=fault.alarm.name if fault else None,
        fault_function_name=fault.function.function.name if fault else None,
    ),
    opts=providers.options,
)

# Output names follow the seed template, so its runbook keeps working; the rest are new.
pulumi.export("S3BucketName", images.bucket.bucket)
pulumi.export("BucketNameParameter", images.parameter.name)
pulumi.export("LambdaFunctionName", images.api_function.function.name)
pulumi.export("BedrockLambdaName", images.seeder_function.function.name)
pulumi.export("ApiEndpoint", images.api_endpoint)
pulumi.export("ImageSeedResult", images.seeding.result)
pulumi.export("ImageFunctionRoleArn", images.api_function.role.arn)
pulumi.export("RestApiId", images.rest_api.id)
if fault:
    pulumi.export("BucketPolicyLambdaName", fault.function.function.name)
    pulumi.export("CloudWatchAlarmName", fault.alarm.name)
for key, value in observability.stack_outputs.items():
    pulumi.export(key, value)
for key, value in drill_support.stack_outputs.items():
    pulumi.export(key, value)
