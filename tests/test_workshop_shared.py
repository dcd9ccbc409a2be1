"""Account-wide resources owned by one shared stack (issue 18): sharedStack under mocks."""

from __future__ import annotations

import runpy

import pytest
from conftest import ACCOUNT, PROJECT, REGION, ROOT, depends_on, program_run, set_config

SHARED = f"workshop-org/{PROJECT}/facilitator"
SHARED_GROUP = f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/SharedGroup00001"
ATTENDEE = {"sharedStack": SHARED, "apiGatewayAccountRole": False, "namePrefix": "alice-lab"}
REFERENCE = "pulumi:pulumi:StackReference"
GROUP = "aws-native:aiops:InvestigationGroup"
ACCOUNT_SETTING = "aws:apigateway/account:Account"


def test_a_stack_with_shared_stack_reads_its_group_and_creates_no_account_wide_resource():
    run = program_run(ATTENDEE, other_stacks={SHARED: {"InvestigationGroupArn": SHARED_GROUP}})
    mocks = run.mocks
    reference = mocks.one(REFERENCE)
    assert reference.inputs["name"] == SHARED
    assert not mocks.of_type(GROUP) and not mocks.of_type(ACCOUNT_SETTING)
    roles = [r.name for r in mocks.of_type("aws:iam/role:Role")]
    assert not [r for r in roles if "investigation" in r or "cloudwatch-role" in r]
    alarm = mocks.one("aws:cloudwatch/metricAlarm:MetricAlarm", "observability-api-5xx").inputs
    assert run.outputs["ApiGateway5XXAlarmName"] == "alice-lab-api-5xx-alarm"
    assert alarm["alarmActions"] == [SHARED_GROUP]
    assert run.outputs["InvestigationGroupArn"] == SHARED_GROUP  # exported again, so the drill finds the group here


def test_without_shared_stack_there_is_no_reference_and_the_stack_owns_the_group():
    mocks = program_run().mocks
    assert not mocks.of_type(REFERENCE)
    assert len(mocks.of_type(GROUP)) == 1 and len(mocks.of_type(ACCOUNT_SETTING)) == 1


def test_a_shared_stack_without_the_group_output_fails_naming_the_stack_and_the_output():
    with pytest.raises(ValueError) as error:
        program_run(ATTENDEE, other_stacks={SHARED: {"ApiEndpoint": "https://example/prod/random"}})
    message = str(error.value)
    assert f"{PROJECT}:sharedStack = {SHARED!r}" in message
    assert "has no output InvestigationGroupArn" in message


def test_a_shared_group_in_another_region_is_refused():
    with pytest.raises(ValueError, match=f"is not in {REGION}"):
        program_run(
            ATTENDEE, other_stacks={SHARED: {"InvestigationGroupArn": SHARED_GROUP.replace(REGION, "eu-west-1")}}
        )


@pytest.mark.parametrize(
    ("extra", "other_key"),
    [
        ({"investigationGroupArn": SHARED_GROUP}, "investigationGroupArn"),
        ({"apiGatewayAccountRole": True}, "apiGatewayAccountRole"),
    ],
)
def test_shared_stack_with_a_conflicting_setting_fails_naming_both_keys(mocks, extra, other_key):
    set_config({**ATTENDEE, **extra})
    with pytest.raises(ValueError) as error:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert f"{PROJECT}:sharedStack" in str(error.value)
    assert f"{PROJECT}:{other_key}" in str(error.value)
    assert not mocks.of_type(REFERENCE)


def test_shared_stack_with_the_account_role_left_at_its_default_fails_too(mocks):
    # The Pulumi CLI hands the program Pulumi.yaml's default (true) for a key the stack does not set, so
    # the program cannot tell "not set" from "true": an attendee sets apiGatewayAccountRole=false.
    set_config({"sharedStack": SHARED})
    with pytest.raises(ValueError, match="apiGatewayAccountRole = true conflict"):
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("facilitator", "organization/aiops-demo/stack"),
        (f"org/{PROJECT}/a/b", "organization/aiops-demo/stack"),
        ("org/other-project/facilitator", "must be a stack of this program"),
    ],
)
def test_a_malformed_shared_stack_name_fails_with_the_form_it_takes(mocks, value, allowed):
    set_config({"sharedStack": value, "apiGatewayAccountRole": False})
    with pytest.raises(ValueError, match=rf"^config {PROJECT}:sharedStack = '{value}'") as error:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert allowed in str(error.value)


def test_the_investigation_group_waits_for_its_role_policy_and_the_image_function():
    mocks = program_run().mocks
    group = mocks.one(GROUP)
    assert depends_on(
        group,
        mocks.one("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "observability-investigation-role-policy"),
    )
    assert depends_on(group, mocks.one("aws:lambda/function:Function", "images-image-api-fn"))
