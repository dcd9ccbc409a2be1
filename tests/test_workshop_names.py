"""Many stacks in one account (issue 18): namePrefix, validated against every explicit name the program builds."""

from __future__ import annotations

import runpy
from typing import Any

import pulumi
import pytest
from conftest import PROJECT, ROOT, RecordingMocks, RecordingMonitor, program_run, set_config

from components.names import EXPLICIT_NAMES, prefix_limits, prefix_problems

# Where each explicitly named type keeps its physical name.
NAME_PROPERTY = {
    "aws:lambda/function:Function": "name",
    "aws:cloudwatch/logGroup:LogGroup": "name",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "name",
    "aws:ssm/parameter:Parameter": "name",
    "aws:cloudwatch/dashboard:Dashboard": "dashboardName",
    "aws:apigateway/restApi:RestApi": "name",
    "aws-native:aiops:InvestigationGroup": "name",
    "aws:dynamodb/table:Table": "name",
    "aws:iam/policy:Policy": "name",  # managed policies; those without a name are auto-named
}
EXECUTION_LOGS = "API-Gateway-Execution-Logs_"  # named after the REST API's id, which is unique per API


def use_stack(stack: str) -> RecordingMocks:
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(
        recording, project=PROJECT, stack=stack, preview=False, monitor=RecordingMonitor(recording)
    )
    return recording


def built_names(mocks: RecordingMocks) -> set[str]:
    names = {r.inputs.get(NAME_PROPERTY[r.typ]) for r in mocks.resources if r.typ in NAME_PROPERTY} - {None}
    return {name for name in names if not name.startswith(EXECUTION_LOGS)}


def program_names(stack: str, config: dict[str, Any]) -> tuple[set[str], RecordingMocks]:
    """Run __main__.py for `stack` with `config` and return every explicit physical name it registered."""
    mocks = program_run(config, stack=stack).mocks
    return built_names(mocks), mocks


@pytest.fixture
def project_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    yield
    use_stack("dev")
    set_config()


# Every switch that adds explicit names on (the partial-fault experiments add a log group and two alarms).
ALL_NAMES = {"fisEnabled": True}


def test_the_table_holds_every_explicit_name_the_program_builds():
    names, _ = program_names("dev", ALL_NAMES)
    assert names == {explicit.of(f"{PROJECT}-dev") for explicit in EXPLICIT_NAMES}


def test_two_stacks_named_dev_with_their_own_prefixes_get_disjoint_names_and_tags():
    alice, alice_mocks = program_names("dev", {**ALL_NAMES, "namePrefix": "alice-lab"})
    bob, _ = program_names("dev", {**ALL_NAMES, "namePrefix": "bob-lab"})
    assert alice == {explicit.of("alice-lab") for explicit in EXPLICIT_NAMES}
    assert bob == {explicit.of("bob-lab") for explicit in EXPLICIT_NAMES}
    assert not alice & bob
    provider = alice_mocks.one("pulumi:providers:aws", "aws")
    assert '"NamePrefix":"alice-lab"' in provider.inputs["defaultTags"].replace(" ", "")


def test_the_prefix_limit_is_computed_from_the_names():
    limits = prefix_limits()
    # "<prefix>-fault-injector" is the longest Lambda function name: 64 - 15.
    assert (limits.max_length, limits.tightest.template) == (49, "{prefix}-fault-injector")
    assert limits.characters == "A-Z a-z 0-9 - _"
    assert not prefix_problems("x" * 49)
    assert prefix_problems("x" * 50) == [
        f"the Lambda function name {'x' * 50 + '-fault-injector'!r} would be 65 characters, and AWS allows 64"
    ]


@pytest.mark.parametrize(
    ("stack", "problem"),
    [
        # aiops-demo- (11) + 49 + -fault-injector (15) = 75 characters
        ("s" * 49, "would be 75 characters, and AWS allows 64"),
        ("feature.v2", "may contain only A-Z a-z 0-9 _ -"),
    ],
)
def test_a_stack_name_that_breaks_the_default_prefix_fails_at_preview(project_root, stack, problem):
    use_stack(stack)
    set_config()
    with pytest.raises(ValueError) as error:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    message = str(error.value)
    assert f"stack name {stack!r}" in message
    assert f"{PROJECT}:namePrefix" in message
    assert problem in message
    assert "allowed values are 1 to 49 characters of A-Z a-z 0-9 - _" in message


def test_a_long_stack_name_deploys_with_a_short_name_prefix():
    names, _ = program_names("s" * 49, {"namePrefix": "alice-lab"})
    assert "alice-lab-fault-injector" in names


@pytest.mark.parametrize(
    ("prefix", "problem"),
    [
        ("alice.lab", "may contain only A-Z a-z 0-9 _ -"),
        ("a" * 50, "would be 65 characters"),
        ("ssm-lab", "may not begin with aws or ssm"),  # the parameter /ssm-lab/bucket-name is reserved
    ],
)
def test_a_bad_name_prefix_fails_naming_the_key_the_limit_and_the_characters(project_root, prefix, problem):
    use_stack("dev")
    set_config({"namePrefix": prefix})
    with pytest.raises(ValueError, match=rf"^config {PROJECT}:namePrefix = '{prefix}'") as error:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
    assert "allowed values are 1 to 49 characters of A-Z a-z 0-9 - _" in str(error.value)
    assert problem in str(error.value)


def test_the_workshop_guide_lists_every_explicit_name_and_the_computed_limit():
    guide = (ROOT / "docs" / "workshop.md").read_text(encoding="utf-8")
    for explicit in EXPLICIT_NAMES:
        if not explicit.template.startswith("/aws/lambda/"):  # the guide names one and says "the two others"
            assert f"`{explicit.template}`" in guide, explicit.template
    limits = prefix_limits()
    assert f"at most **{limits.max_length}** characters" in guide
    assert f"allow only **`{limits.characters}`**" in guide
