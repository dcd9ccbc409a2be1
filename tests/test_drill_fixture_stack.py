"""The drill tests' stack (drill_fixtures.build_stack) is the program's: the same policies, names, alarms,
parameter, functions and outputs as `__main__.py` declares under the recording mocks of conftest.py.

The fixture replays the rehearsal's replica; this test holds it against the program run independently
of the replica, so a hand-written or stale fixture (a statement Sid that drifted, a missing alarm) fails.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest
from conftest import RecordingMocks, run_program, settled
from drill_fixtures import build_stack, function_environment
from stack_plan import Renames

pytestmark = pytest.mark.e2e  # the program's whole stack in moto: the `.ci/run` e2e step


def declared(mocks: RecordingMocks) -> dict[str, Any]:
    """The program's outputs and the inputs of every resource it declared, resolved."""
    found: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        outputs = run_program()
        names = sorted(outputs)
        return settled(*[outputs[n] for n in names]).apply(lambda v: found.update(zip(names, v, strict=True)))

    program()
    return found


def inline_policies(stack, role_name: str) -> list[dict[str, Any]]:
    iam = stack.client("iam")
    names = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    return [iam.get_role_policy(RoleName=role_name, PolicyName=n)["PolicyDocument"] for n in names]


def test_the_fixture_stack_is_the_one_the_program_declares(mocks, aws_mock):
    program = declared(mocks)
    stack = build_stack(None, "aiops-demo-dev")  # the prefix the mocks' program has (project aiops-demo, stack dev)
    other = build_stack(None, "aiops-demo-other")  # a second stack in the same moto: nothing collides
    # The mocks' made-up names and ids, as the fixture's stack has them.
    same = Renames({program[k]: stack.outputs[k] for k in ("S3BucketName", "ImageFunctionRoleArn", "RestApiId")})

    assert set(stack.outputs) == set(program)

    def exported_alike(key: str) -> bool:  # the program's value, its mock auto-name suffix standing for any
        if not isinstance(program[key], str):  # unknown under the mocks (no answer for it): not comparable
            return False
        return re.fullmatch(re.escape(same.apply(program[key])).replace("a1b2c3", "[0-9a-f]{7}"), stack.outputs[key])

    assert {k for k in stack.outputs if not exported_alike(k)} == {
        "ImageSeedResult",  # the seeder does not run: each test writes images
        # Not in moto, or no provisioner in the replica: placeholder ARNs (the replica lists them as skipped).
        "InvestigationGroupArn",
    }

    # The image role's policy, statement by statement (Sid, actions, resources).
    image_role = program["ImageFunctionRoleArn"].rsplit("/", 1)[-1]
    [image_policy] = [r for r in mocks.of_type("aws:iam/rolePolicy:RolePolicy") if r.inputs["role"] == image_role]
    assert inline_policies(stack, stack.role_name) == [same.apply(json.loads(image_policy.inputs["policy"]))]

    # Every alarm: name, metric, dimensions, threshold, actions.
    alarms = {a["AlarmName"]: a for a in stack.client("cloudwatch").describe_alarms()["MetricAlarms"]}
    for alarm in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm"):
        made = alarms.pop(alarm.inputs["name"])
        want = same.apply(alarm.inputs)
        assert (made["Namespace"], made["MetricName"], made["Threshold"]) == (
            want["namespace"],
            want["metricName"],
            want["threshold"],
        )
        assert {d["Name"]: d["Value"] for d in made["Dimensions"]} == want["dimensions"]
        assert made["ActionsEnabled"] is want.get("actionsEnabled", True)
        if "lambda" in json.dumps(want.get("alarmActions")):
            assert made["AlarmActions"] == want["alarmActions"]
    assert all(name.startswith("aiops-demo-other-") for name in alarms)  # only the other stack's are left

    # The parameter, and every function's environment.
    parameter = mocks.one("aws:ssm/parameter:Parameter").inputs
    value = stack.client("ssm").get_parameter(Name=parameter["name"])["Parameter"]["Value"]
    assert value == same.apply(parameter.get("insecureValue") or parameter["value"]) == stack.bucket
    for function in mocks.of_type("aws:lambda/function:Function"):
        assert function_environment(stack, function.inputs["name"]) == same.apply(
            function.inputs.get("environment", {}).get("variables", {})
        )
    assert other.bucket != stack.bucket and other.role_arn != stack.role_arn


@pytest.mark.parametrize("fault_chain", [True, False])
def test_fault_chain_false_is_the_program_without_fault_injection(aws_mock, fault_chain):
    stack = build_stack(None, "aiops-demo-dev", fault_chain=fault_chain)
    functions = {f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]}
    assert ("aiops-demo-dev-fault-injector" in functions) is fault_chain
    assert ("BucketPolicyLambdaName" in stack.outputs) is fault_chain
