"""The observability wiring as __main__.py does it, under mocks, with each config switch on and off.

Each case sets the stack configuration and runs the real __main__.py, so every switch is exercised
through configuration, validation and wiring as `pulumi up` would run them.
"""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, REGION, depends_on, program_run

PREFIX = "aiops-demo-dev"
EXISTING_GROUP = f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/AbCdEfGhIjKlMnOp"
LAYER = f"arn:aws:lambda:{REGION}:615299751070:layer:AWSOpenTelemetryDistroPython:16"
ACCOUNT_TYPE = "aws:apigateway/account:Account"
GROUP = "aws-native:aiops:InvestigationGroup"
DISCOVERY = "aws-native:applicationsignals:Discovery"


# config, region, then what must follow: account setting made, data trace, investigation group
# ("created" / "adopted" / None), Application Signals, a region warning, the invocations alarm on the dashboard.
CASES = {
    "defaults": ({}, REGION, True, False, "created", False, False, True),
    "account role off": ({"apiGatewayAccountRole": False}, REGION, False, False, "created", False, False, True),
    "data trace on": ({"apiDataTrace": True}, REGION, True, True, "created", False, False, True),
    "investigations off": ({"investigationsEnabled": False}, REGION, True, False, None, False, False, True),
    "group adopted": ({"investigationGroupArn": EXISTING_GROUP}, REGION, True, False, "adopted", False, False, True),
    "application signals on": (
        {"applicationSignalsEnabled": True, "adotLayerArn": LAYER},
        REGION,
        True,
        False,
        "created",
        True,
        False,
        True,
    ),
    "region without investigations": ({}, "sa-east-1", True, False, None, False, True, True),
    "fault injection off": ({"faultInjectionEnabled": False}, REGION, True, False, "created", False, False, False),
}


@pytest.mark.parametrize("case", CASES)
def test_program_runs_with_each_switch(case):
    config, region, account, data_trace, group, signals, warned, fault_alarm = CASES[case]
    run = program_run(config, region=region)
    mocks, exported = run.mocks, run.outputs
    assert exported["ApiGateway5XXAlarmName"] == f"{PREFIX}-api-5xx-alarm"
    assert exported["LambdaErrorsAlarmName"] == f"{PREFIX}-image-api-errors-alarm"
    assert exported["DashboardUrl"] == (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{PREFIX}"
    )
    assert exported["ApiEndpoint"].endswith("/prod/random")

    stage = mocks.one("aws:apigateway/stage:Stage")
    assert len(mocks.of_type(ACCOUNT_TYPE)) == int(account)
    if account:
        assert depends_on(stage, mocks.one(ACCOUNT_TYPE))
    settings = mocks.one("aws:apigateway/methodSettings:MethodSettings").inputs["settings"]
    assert settings["dataTraceEnabled"] is data_trace

    five_xx = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "observability-api-5xx").inputs
    assert len(mocks.of_type(GROUP)) == int(group == "created")
    if group is None:
        assert "InvestigationGroupArn" not in exported
        assert five_xx["alarmActions"] == []
    else:
        assert five_xx["alarmActions"] == [exported["InvestigationGroupArn"]]
        if group == "adopted":
            assert exported["InvestigationGroupArn"] == EXISTING_GROUP

    assert mocks.of_type(DISCOVERY) == []  # account-wide: a one-time step, never a stack resource
    fn = mocks.one("aws:lambda/function:Function", "images-image-api-fn").inputs
    assert fn.get("layers") == ([LAYER] if signals else None)

    assert len(run.warnings) == int(warned) + int(signals)  # Application Signals names its discovery step
    dashboard = mocks.one("aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"]
    assert (f"{PREFIX}-lambda-trigger-alarm" in dashboard) is fault_alarm
