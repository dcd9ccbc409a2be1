"""Components take every setting from `Settings`: config.DEFAULTS (kept equal to Pulumi.yaml by test_config) is
the only place a default lives, so no component Args field may carry a default of its own."""

from __future__ import annotations

import dataclasses

import pytest
from settings_helper import default_settings

from components.api_logging import ApiLoggingArgs
from components.config import DEFAULTS, Settings
from components.fault_experiments import ExperimentConfigurationArgs, FaultExperimentsArgs
from components.fault_injection import FaultInjectionArgs
from components.image_service import ImageServiceArgs
from components.observability import ObservabilityArgs

# Fields that are wiring between components, not settings: their defaults mean "not connected".
WIRING = {"stage_access_log", "stage_depends_on", "api_instrumentation"}
ARGS = [
    ApiLoggingArgs,
    ImageServiceArgs,
    FaultInjectionArgs,
    ObservabilityArgs,
    ExperimentConfigurationArgs,
    FaultExperimentsArgs,
]


@pytest.mark.parametrize("args", ARGS, ids=lambda a: a.__name__)
def test_no_component_args_field_has_a_default_of_its_own(args):
    with_default = {
        f.name
        for f in dataclasses.fields(args)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    }
    assert with_default <= WIRING


def unusual_settings() -> Settings:
    """Every setting changed from its default, each to a value no other setting has."""
    changed = {
        "project": "proj",
        "stack": "stk",
        "region": "eu-west-1",
        "image_count": 11,
        "image_model_id": "amazon.nova-canvas-v1:0",
        "image_cache_ttl_seconds": 17,
        "log_retention_days": 90,
        "fault_alarm_threshold": 9,
        "fault_alarm_period_seconds": 240,
        "api_throttling_burst_limit": 21,
        "api_throttling_rate_limit": 42,
        "api_alarm_period_seconds": 180,
        "investigation_retention_days": 45,
        "investigation_group_arn": "arn:aws:aiops:eu-west-1:1:investigation-group/x",
    }
    flags = {f.name: not getattr(default_settings(), f.name) for f in dataclasses.fields(Settings) if f.type == "bool"}
    return default_settings(**changed, **flags)


def test_the_settings_reach_every_component_unchanged():
    s = unusual_settings()
    logging = ApiLoggingArgs.from_settings(s)
    images = ImageServiceArgs.from_settings(s)
    fault = FaultInjectionArgs.from_settings(s, bucket=None, target_function=None)
    observed = ObservabilityArgs.from_settings(s, service=None, api_logging=None, invocations_alarm_arn=None)

    assert (logging.prefix, logging.log_retention_days, logging.account_role) == (
        "proj-stk",
        90,
        s.api_gateway_account_role,
    )
    assert (images.prefix, images.region, images.image_count, images.image_model_id) == (
        "proj-stk",
        "eu-west-1",
        11,
        "amazon.nova-canvas-v1:0",
    )
    assert (images.image_cache_ttl_seconds, images.log_retention_days) == (17, 90)
    assert (fault.prefix, fault.region, fault.log_retention_days) == ("proj-stk", "eu-west-1", 90)
    assert (fault.threshold, fault.period_seconds, fault.armed) == (9, 240, s.fault_armed)
    assert (observed.prefix, observed.region, observed.log_retention_days) == ("proj-stk", "eu-west-1", 90)
    assert (observed.throttling_burst_limit, observed.throttling_rate_limit, observed.api_alarm_period_seconds) == (
        21,
        42,
        180,
    )
    assert (observed.investigation_retention_days, observed.investigation_group_arn) == (45, s.investigation_group_arn)
    assert (observed.api_data_trace, observed.investigations_enabled, observed.application_signals_enabled) == (
        s.api_data_trace,
        s.investigations_enabled,
        s.application_signals_enabled,
    )
    # The flags really are the non-defaults: a mapping that ignored its setting would show the default.
    assert (s.fault_armed, s.api_data_trace, s.api_gateway_account_role) == (
        not DEFAULTS["faultArmed"],
        not DEFAULTS["apiDataTrace"],
        not DEFAULTS["apiGatewayAccountRole"],
    )


def test_the_test_settings_are_config_defaults():
    s = default_settings()
    assert (s.fault_alarm_threshold, s.api_throttling_burst_limit) == (
        DEFAULTS["faultAlarmThreshold"],
        DEFAULTS["apiThrottlingBurstLimit"],
    )
