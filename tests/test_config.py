"""Configuration: defaults, validation errors that name the key, and Pulumi.yaml kept in step."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, set_config

from components.config import DEFAULTS, load_settings


def test_defaults_give_a_valid_settings_object(mocks):
    settings = load_settings()
    assert settings.prefix == "aiops-demo-dev"
    assert settings.region == "us-west-2"
    assert settings.image_count == 5
    assert settings.image_model_id == "stability.stable-image-core-v1:1"
    assert settings.fault_injection_enabled is True
    assert settings.api_data_trace is False


def test_pulumi_yaml_declares_every_key_with_the_same_default_and_a_description():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(declared) == set(DEFAULTS)
    for key, spec in declared.items():
        assert spec["default"] == DEFAULTS[key], key
        assert spec["description"], key
        expected_type = {bool: "boolean", int: "integer", str: "string"}[type(DEFAULTS[key])]
        assert spec["type"] == expected_type, key


def test_explicit_false_and_zero_are_kept_not_replaced_by_defaults(mocks):
    set_config({"faultInjectionEnabled": False, "imageCacheTtlSeconds": 0, "apiThrottlingBurstLimit": 0})
    settings = load_settings()
    assert settings.fault_injection_enabled is False
    assert settings.image_cache_ttl_seconds == 0
    assert settings.api_throttling_burst_limit == 0


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("imageCount", 0, "1 to 20"),
        ("imageCount", 21, "1 to 20"),
        ("logRetentionDays", 8, "1, 3, 5, 7, 14"),
        ("faultAlarmThreshold", 0, "1 to 1000"),
        # One-minute metrics: high-resolution periods (10, 30) and partial minutes are refused.
        ("faultAlarmPeriodSeconds", 45, "multiples of 60 from 60 to 86400"),
        ("faultAlarmPeriodSeconds", 10, "multiples of 60 from 60 to 86400"),
        ("faultAlarmPeriodSeconds", 30, "multiples of 60 from 60 to 86400"),
        ("faultAlarmPeriodSeconds", 86460, "multiples of 60 from 60 to 86400"),
        ("apiAlarmPeriodSeconds", 90, "multiples of 60 from 60 to 86400"),
        ("apiAlarmPeriodSeconds", 10, "multiples of 60 from 60 to 86400"),
        ("apiAlarmPeriodSeconds", 30, "multiples of 60 from 60 to 86400"),
        ("apiAlarmPeriodSeconds", 0, "multiples of 60 from 60 to 86400"),
        ("investigationRetentionDays", 6, "7 to 90"),
        ("investigationRetentionDays", 91, "7 to 90"),
        ("imageModelId", "amazon.titan-text-express-v1", "stability."),
        ("investigationGroupArn", "my-group", "ARN of an existing investigation group in us-west-2"),
        ("investigationGroupArn", "arn:aws:aiops:eu-west-1:123456789012:investigation-group/abc", "in us-west-2"),
    ],
)
def test_bad_value_fails_with_the_key_and_what_is_allowed(mocks, key, value, allowed):
    set_config({key: value})
    with pytest.raises(ValueError, match=rf"aiops-demo:{key}") as error:
        load_settings()
    assert allowed in str(error.value)


@pytest.mark.parametrize("period", [60, 120, 300, 86400])
def test_whole_minute_alarm_periods_are_accepted(mocks, period):
    set_config({"faultAlarmPeriodSeconds": period, "apiAlarmPeriodSeconds": period})
    settings = load_settings()
    assert settings.fault_alarm_period_seconds == period
    assert settings.api_alarm_period_seconds == period


def test_pulumi_yaml_describes_alarm_periods_as_whole_minutes():
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    for key in ("faultAlarmPeriodSeconds", "apiAlarmPeriodSeconds"):
        assert "multiple of 60" in declared[key]["description"], key
        assert "10, 30" not in declared[key]["description"], key


@pytest.mark.parametrize("armed", [True, False])
def test_fault_armed_defaults_to_true_and_follows_config(mocks, armed):
    assert load_settings().fault_armed is True
    set_config({"faultArmed": armed})
    assert load_settings().fault_armed is armed


def test_non_integer_value_fails_naming_the_key(mocks):
    set_config({"imageCount": "five"})
    with pytest.raises(Exception, match="imageCount"):
        load_settings()


def test_region_less_stack_fails_with_the_command_to_fix_it(mocks):
    set_config(region=None)
    with pytest.raises(ValueError, match=r"aws:region is not set.*pulumi config set aws:region"):
        load_settings()


def test_application_signals_needs_the_layer_arn(mocks):
    set_config({"applicationSignalsEnabled": True})
    with pytest.raises(ValueError, match=r"adotLayerArn is required.*Application-Signals"):
        load_settings()


def test_aws_native_region_must_match_aws_region(mocks):
    set_config({"aws-native:region": "eu-west-1"})
    with pytest.raises(ValueError, match=r"aws-native:region = eu-west-1: allowed value is aws:region \(us-west-2\)"):
        load_settings()


def test_adopted_group_in_the_stack_region_is_accepted(mocks):
    arn = "arn:aws:aiops:us-west-2:123456789012:investigation-group/abc"
    set_config({"investigationGroupArn": arn, "aws-native:region": "us-west-2"})
    assert load_settings().investigation_group_arn == arn
