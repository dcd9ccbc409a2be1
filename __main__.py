"""aiops-demo: a small image service and everything needed to rehearse an incident on it."""

import pulumi

from components.api_logging import ApiLogging, ApiLoggingArgs
from components.config import load_settings
from components.drill_support import DrillSupport, DrillSupportArgs
from components.fault_experiments import (
    ExperimentConfiguration,
    ExperimentConfigurationArgs,
    FaultExperiments,
    FaultExperimentsArgs,
)
from components.fault_injection import FaultInjection, FaultInjectionArgs
from components.function import Instrumentation
from components.image_service import ImageService, ImageServiceArgs
from components.observability import Observability, ObservabilityArgs, application_signals_instrumentation
from components.providers import application_tags, stack_providers
from components.shared_stack import shared_investigation_group_arn, shared_stack_reference
from drill import outputs  # the output names: a leaf module that imports nothing

settings = load_settings()
# Every component builds on these providers: one region, and the application tags on every taggable resource.
providers = stack_providers(settings.region, application_tags(settings.project, settings.stack, settings.prefix))

# With sharedStack, the account-wide investigation group belongs to that stack: the 5XX alarm uses its group,
# read from the output the shared stack exports it under (the same contract name this stack exports).
shared_stack = shared_stack_reference(settings.shared_stack) if settings.shared_stack else None
shared_group_arn = (
    shared_investigation_group_arn(
        shared_stack,
        outputs.INVESTIGATION_GROUP,
        settings.shared_stack,
        settings.region,
        f"{settings.project}:sharedStack",
    )
    if shared_stack and settings.investigations_enabled
    else None
)

# Built before the image service: its stage logs to this group and waits for the account's log role.
api_logging = ApiLogging("api-logging", ApiLoggingArgs.from_settings(settings), opts=providers.options)
# FIS's configuration store comes first: the image function's environment names it. One exec wrapper per
# function: config refuses fisEnabled together with applicationSignalsEnabled.
fis_configuration = (
    ExperimentConfiguration("fis-config", ExperimentConfigurationArgs.from_settings(settings), opts=providers.options)
    if settings.fis_enabled
    else None
)
if fis_configuration:
    api_instrumentation = fis_configuration.instrumentation
elif settings.application_signals_enabled:
    api_instrumentation = application_signals_instrumentation(settings.adot_layer_arn)
else:
    api_instrumentation = Instrumentation()
images = ImageService(
    "images",
    ImageServiceArgs.from_settings(
        settings,
        stage_access_log=api_logging.stage_access_log,
        stage_depends_on=api_logging.stage_depends_on,
        api_instrumentation=api_instrumentation,
    ),
    opts=providers.options,
)
fault = (
    FaultInjection(
        "fault",
        FaultInjectionArgs.from_settings(settings, bucket=images.bucket, target_function=images.api_function),
        opts=providers.options,
    )
    if settings.fault_injection_enabled
    else None
)
experiments = (
    FaultExperiments(
        "fis",
        FaultExperimentsArgs.from_settings(settings, configuration=fis_configuration, service=images),
        opts=providers.options,
    )
    if fis_configuration
    else None
)
observability = Observability(
    "observability",
    ObservabilityArgs.from_settings(
        settings,
        service=images,
        api_logging=api_logging,
        invocations_alarm_arn=fault.alarm.arn if fault else None,
        shared_group_arn=shared_group_arn,
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
        fis_template_ids=[t.id for t in experiments.templates.values()] if experiments else (),
        fis_configuration_bucket_arn=fis_configuration.bucket.arn if fis_configuration else None,
    ),
    opts=providers.options,
)

# Every output under its name in the contract with the drill (drill/outputs.py: the seed's names, so its
# runbook keeps working, and the ones added since).
pulumi.export(outputs.BUCKET, images.bucket.bucket)
pulumi.export(outputs.PARAMETER, images.parameter.name)
pulumi.export(outputs.IMAGE_FUNCTION, images.api_function.function.name)
pulumi.export(outputs.SEEDER_FUNCTION, images.seeder_function.function.name)
pulumi.export(outputs.API_ENDPOINT, images.api_endpoint)
pulumi.export(outputs.SEED_RESULT, images.seeding.result)
pulumi.export(outputs.IMAGE_ROLE, images.api_function.role.arn)
pulumi.export(outputs.REST_API_ID, images.rest_api.id)
pulumi.export(outputs.REST_API_NAME, images.rest_api.name)
pulumi.export(outputs.NAME_PREFIX, settings.prefix)
pulumi.export(outputs.API_5XX_ALARM, observability.api_5xx_alarm.name)
pulumi.export(outputs.ERRORS_ALARM, observability.lambda_errors_alarm.name)
pulumi.export(outputs.DASHBOARD_URL, observability.dashboard_url)
pulumi.export(outputs.LATENCY_ALARM, observability.api_latency_alarm.name)
pulumi.export(outputs.OPERATOR_POLICY, drill_support.operator_policy.arn)
pulumi.export(outputs.RECORD_TABLE, drill_support.table.name)
pulumi.export(outputs.STANDBY_ROLE, drill_support.standby_role.arn)
if fault:
    pulumi.export(outputs.FAULT_FUNCTION, fault.function.function.name)
    pulumi.export(outputs.INVOCATIONS_ALARM, fault.alarm.name)
if observability.investigation_group_arn is not None:
    pulumi.export(outputs.INVESTIGATION_GROUP, observability.investigation_group_arn)
if fis_configuration and experiments:
    pulumi.export(outputs.FIS_LATENCY_TEMPLATE, experiments.templates["latency"].id)
    pulumi.export(outputs.FIS_ERRORS_TEMPLATE, experiments.templates["errors"].id)
    pulumi.export(outputs.FIS_CONFIGURATION_LOCATION, fis_configuration.location)
