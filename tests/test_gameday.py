"""The game day's scenarios against one moto server (reset before every test): inject changes the resource,
restore puts the stack back exactly as before (field by field, `gameday_fixtures.snapshot`), from this
process or another one, after a crash, a conflicting change or a refused call.

moto neither evaluates alarms nor runs Lambda code: the seed's alarm action is played by a stand-in that
adds the fault's statements when the drill first waits (as the fault function would), and the seed's
restore takes the direct path (the fault function cannot answer).
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from drill_fixtures import inject_fault_like_the_fault_function
from fis_fixtures import frozen_experiments
from gameday_fixtures import (  # noqa: F401  (fresh, moto_server: fixtures)
    FAST,
    api_answering_200,
    differences,
    drill_elsewhere,
    fresh,
    gameday_stack,
    kill_when_paused,
    make_drill,
    moto_server,
    snapshot,
)

from components.drill_support import DrillSupportArgs, operator_statements
from drill import cli, outputs
from drill.errors import DrillError
from drill.scenarios import NAMES, SCENARIOS, SEED, inject, restore
from drill.scenarios import record as store
from drill.scenarios.catalogue import ARMING_CALLS, RECORD_CALLS
from drill.scenarios.model import PAUSE_VARIABLE
from drill.steps.run import investigate_step

pytestmark = pytest.mark.e2e  # scenarios against a moto server: the `.ci/run` e2e step

# What each scenario changes, as `snapshot` names it (every direct one also disarms the alarm and records).
CHANGES = {
    "bucket_policy_deny": {"bucket_policy"},
    "role_permission_missing": {"role_inline"},
    "parameter_wrong_bucket": {"parameter"},
    "parameter_missing": {"parameter", "parameter_details", "parameter_tags"},
    "function_throttled": {"concurrency"},
    "function_environment_changed": {"function"},
    "function_role_changed": {"function"},
    "api_permission_missing": {"function_policy"},
    "api_throttled": {"method_settings"},
    # An experiment runs: nothing `snapshot` reads changes (the record and the alarm's arming aside).
    "function_latency": set(),
    "function_errors": set(),
}
FIS_NAMES = ("function_latency", "function_errors")


def alarm_back_to_ok(stack) -> None:
    """CloudWatch would evaluate the alarm to OK a period after the seed's ALARM (moto never evaluates)."""
    name = stack.outputs["CloudWatchAlarmName"]
    stack.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue="OK", StateReason="test: evaluated")


def test_the_catalogue_covers_the_nine_kinds_of_the_issue_and_the_two_fis_scenarios():
    assert set(NAMES) == set(CHANGES)
    assert NAMES[0] == SEED
    assert {(s.name, s.kind, s.mechanism) for s in SCENARIOS if s.mechanism == "fis"} == {
        ("function_latency", "fis_latency_injected", "fis"),
        ("function_errors", "fis_errors_injected", "fis"),
    }


def test_every_scenario_changes_only_its_resource_and_another_process_restores_them_all_exactly(fresh, tmp_path):  # noqa: F811
    """One stack, every scenario injected one after the other (a compound incident: two of them change the
    parameter, three the function), then one restore from another process, working directory and HOME."""
    stack = gameday_stack(fresh, "gd-all")
    before = previous = snapshot(stack)
    drill = make_drill(stack, fresh)
    for number, name in enumerate(NAMES):
        result = inject(drill, name, **FAST)
        assert result.ok and not result.data["already"], name
        now = snapshot(stack)
        # The first direct scenario disarms the alarm the seed armed; the others find it disarmed.
        expected = CHANGES[name] | {"records"} | ({"alarms"} if number == 1 else set())
        assert set(differences(previous, now)) == expected, (name, differences(previous, now))
        assert [i["scenario"]["S"] for i in now["records"] if i["scenario"]["S"] == name] == [name]
        previous = now
    alarm = stack.client("cloudwatch").describe_alarms(AlarmNames=[stack.outputs["CloudWatchAlarmName"]])
    assert alarm["MetricAlarms"][0]["StateValue"] == "ALARM"  # the seed went through its own chain: SetAlarmState
    alarm_back_to_ok(stack)

    with api_answering_200() as endpoint:
        stack.outputs["ApiEndpoint"] = endpoint
        outputs = tmp_path / "outputs.json"
        outputs.write_text(json.dumps(stack.outputs))
        process = drill_elsewhere(
            ["restore", "--json", "--outputs", str(outputs), "--timeout", "5", "--interval", "0.1"],
            fresh,
            tmp_path / "elsewhere",
        )
        out, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    report = json.loads(out)
    # Newest first: the reverse of the order they were injected in (the seed's restore runs after them).
    assert [s["name"] for s in report["scenarios"]] == list(reversed(NAMES[1:]))
    # moto moves an experiment one state on per GetExperiment (tests/fis_fixtures.py): inject saw it running,
    # restore's first look finds it completed by itself. Stopping one: test_fis_scenarios.py and the test below.
    outcomes = {s["name"]: s["outcome"] for s in report["scenarios"]}
    assert {outcomes.pop(name) for name in FIS_NAMES} == {"nothing to undo"}
    assert set(outcomes.values()) == {"restored"}
    assert report["bucket_policy_deny"]["path"] == "direct"  # moto cannot run the fault function
    assert differences(before, snapshot(stack)) == {}


def test_every_scenario_twice_is_recorded_once_and_every_call_is_declared_and_granted(fresh):  # noqa: F811
    """Each scenario injected twice (recorded once, the first prior state kept), then one restore, all in this
    process with every AWS call recorded (botocore's before-call hook) and checked against the catalogue's
    declared calls and the drill-operator policy (components/drill_support.py). The FIS experiments are held
    by the stand-in (tests/fis_fixtures.py), so restore stops running ones."""
    with frozen_experiments():
        every_scenario_twice(fresh)


def every_scenario_twice(fresh) -> None:  # noqa: F811
    stack = gameday_stack(fresh, "gd-twice")
    # A managed policy on both roles, so the investigator reads one whichever the function runs under (the
    # standby role while function_role_changed holds).
    iam = stack.client("iam")
    managed = iam.create_policy(PolicyName="gd-twice-extra", PolicyDocument=json.dumps(READ_ONLY))["Policy"]["Arn"]
    for role in (stack.role_name, stack.outputs[outputs.STANDBY_ROLE].rsplit("/", 1)[-1]):
        iam.attach_role_policy(RoleName=role, PolicyArn=managed)
    before = snapshot(stack)
    calls: set[str] = set()

    def record(client) -> None:
        service = client.meta.service_model.service_name
        client.meta.events.register("before-call", lambda model, **_: calls.add(f"{service}:{model.name}"))

    drill = make_drill(stack, fresh, hook=record)
    investigation: set[str] = set()

    def investigate() -> None:  # what `gameday` runs between the answer and the restore
        nonlocal calls
        drill_calls, calls = calls, investigation
        investigate_step(drill, since_minutes=5)
        calls = drill_calls

    for name in NAMES:
        assert not inject(drill, name, **FAST).data["already"]
        if name == SEED:
            alarm_back_to_ok(stack)  # so the seed's restore below finds it evaluated
        again = inject(drill, name, **FAST)
        assert again.ok and again.data["already"], name
        if name == "parameter_wrong_bucket":  # the image role still runs, the parameter names another bucket
            investigate()
    records = {i["scenario"]["S"]: i for i in snapshot(stack)["records"]}
    assert sorted(records) == sorted(NAMES)
    assert json.loads(records["parameter_wrong_bucket"]["prior"]["S"])["Value"] == stack.bucket  # the first prior
    assert json.loads(records["function_throttled"]["prior"]["S"]) is None
    investigate()  # all nine at once: the standby role runs, the parameter is gone
    # function_errors as a kill -9 between StartExperiment and its id leaves it: restore finds it by its tag.
    crashed = store.get(drill, "function_errors")
    store.replace_injected(drill, replace(crashed, injected={**crashed.injected, "experiment": None}))
    restored = restore(drill, **FAST)
    assert restored.ok, "\n".join(restored.lines)
    assert {s["name"]: s["outcome"] for s in restored.data["scenarios"] if s["name"] in FIS_NAMES} == {
        name: "restored" for name in FIS_NAMES
    }
    assert differences(before, snapshot(stack)) == {}

    declared = {call for s in SCENARIOS for call in s.calls} | set(RECORD_CALLS) | set(ARMING_CALLS)
    assert calls <= declared, calls - declared
    granted = policy_actions()
    needed = {IAM_ACTION.get(call, call) for call in calls | investigation}
    assert needed <= granted, needed - granted
    assert granted - needed == set(NOT_CALLED_HERE), granted - needed
    # Every collector's source is read, with three scenarios or all nine active (moto lacks some: the call is
    # still made, and recorded, before it fails).
    assert investigation >= INVESTIGATOR_READS, INVESTIGATOR_READS - investigation


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}],
}
# What drill/investigator/collectors/*.py call (and target.py: GetRole), by operation.
INVESTIGATOR_READS = {
    "s3:ListObjectsV2",
    "s3:HeadBucket",
    "s3:GetBucketPolicy",
    "ssm:GetParameter",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionConcurrency",
    "lambda:GetPolicy",
    "iam:GetRole",
    "iam:ListRoleTags",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:SimulatePrincipalPolicy",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:GetMetricData",
    "logs:FilterLogEvents",
    "apigateway:GetStage",
    "apigateway:GetRestApi",
    "cloudtrail:LookupEvents",
    "resourcegroupstaggingapi:GetResources",
}


# Granted, but not called by this in-process test, each for a reason.
NOT_CALLED_HERE = {
    "iam:PassRole": "no API call of its own: UpdateFunctionConfiguration with Role needs it on both roles",
    "ssm:AddTagsToResource": "no API call of its own: PutParameter with Tags (parameter_missing's restore) needs it",
    "lambda:InvokeFunction": "the seed's restore asks the fault function first; the test stands in for lambda:Invoke",
    "s3:DeleteBucketPolicy": "the seed's direct restore when the fault was the whole policy (here another statement "
    "stays)",
    "fis:TagResource": "no API call of its own: StartExperiment with tags needs it on the new experiment",
    "iam:CreateServiceLinkedRole": "no API call of the drill: FIS creates its service-linked role at an account's "
    "first StartExperiment",
}
# Operation -> IAM action, where the names differ (the service authorization reference).
IAM_ACTION = {
    "apigateway:GetStage": "apigateway:GET",
    "apigateway:UpdateStage": "apigateway:PATCH",
    "lambda:Invoke": "lambda:InvokeFunction",
    "apigateway:GetRestApi": "apigateway:GET",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",  # granted on the stack's bucket only; the wrong bucket answers 403/404
    "resourcegroupstaggingapi:GetResources": "tag:GetResources",
}


def policy_actions() -> set[str]:
    args = DrillSupportArgs(
        prefix="p",
        region="us-west-2",
        bucket_arn="arn:aws:s3:::b",
        function_role_arn="role",
        rest_api_id="api",
        invocations_alarm_name="alarm",
        fault_function_name="fault",
        fis_template_ids=["EXTlatency", "EXTerrors"],
        fis_configuration_bucket_arn="arn:aws:s3:::fis-config",
    )
    statements = operator_statements(args, "123456789012", "table", "standby")
    return {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


def test_a_change_made_since_the_injection_is_kept_reported_and_fails_unless_forced(fresh, tmp_path):  # noqa: F811
    stack = gameday_stack(fresh, "gd-conflict")
    before = snapshot(stack)
    drill = make_drill(stack, fresh)
    inject(drill, "parameter_wrong_bucket", **FAST)
    inject(drill, "function_throttled", **FAST)
    ssm = stack.client("ssm")
    ssm.put_parameter(Name=stack.parameter, Value="someone-elses-bucket", Type="String", Overwrite=True)

    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack.outputs))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["restore", "--outputs", str(outputs), "--timeout", "1", "--interval", "0.05"],
        out=out,
        err=err,
        make=lambda *_: make_drill(stack, fresh),
    )
    assert code == 1
    text = out.getvalue()
    conflict = next(line for line in text.splitlines() if "parameter_wrong_bucket" in line)
    assert stack.parameter in conflict and "someone-elses-bucket" in conflict  # the resource and its state now
    assert f"{stack.bucket[:47]}-gameday-missing" in conflict  # and what the scenario wrote
    assert ssm.get_parameter(Name=stack.parameter)["Parameter"]["Value"] == "someone-elses-bucket"
    # The other scenario is restored; the conflicting one stays recorded, so the alarm stays disarmed.
    state = snapshot(stack)
    assert [i["scenario"]["S"] for i in state["records"]] == ["parameter_wrong_bucket"]
    assert state["concurrency"] == before["concurrency"]
    assert not differences(before, state).keys() - {"parameter", "records", "alarms"}

    assert restore(make_drill(stack, fresh), force=True, **FAST).ok
    assert differences(before, snapshot(stack)) == {}


def test_kill_9_right_after_the_record_or_right_after_the_change_loses_nothing(fresh, tmp_path):  # noqa: F811
    """Two injects on one stack, each killed at its point: one scenario recorded but not applied, one applied."""
    stack = gameday_stack(fresh, "gd-kill")
    before = snapshot(stack)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack.outputs))
    points = {"recorded": "api_permission_missing", "changed": "function_environment_changed"}
    running = {
        point: drill_elsewhere(
            ["inject", "--scenario", name, "--outputs", str(outputs)], fresh, tmp_path / point, {PAUSE_VARIABLE: point}
        )
        for point, name in points.items()
    }
    for point, process in running.items():
        kill_when_paused(process, point)

    crashed = snapshot(stack)
    assert sorted(i["scenario"]["S"] for i in crashed["records"]) == sorted(points.values())
    assert crashed["function_policy"] == before["function_policy"]  # killed before its change
    assert crashed["function"] != before["function"]  # killed after its change
    result = restore(make_drill(stack, fresh), **FAST)
    assert result.ok, result.lines
    outcomes = {s["name"]: s["outcome"] for s in result.data["scenarios"]}
    assert outcomes == {"api_permission_missing": "nothing to undo", "function_environment_changed": "restored"}
    assert differences(before, snapshot(stack)) == {}


def refuse(operation: str, *, after: int = 0, service: str = "lambda"):
    """A client hook: the `after`+1-th call of `operation` is refused with AccessDenied (nothing sent)."""
    calls = {"count": 0}

    def before_call(**_: Any):
        calls["count"] += 1
        if calls["count"] > after:
            return _Response(403), {"Error": {"Code": "AccessDeniedException", "Message": "refused by the test"}}
        return None

    def hook(client) -> None:
        if client.meta.service_model.service_name == service:
            client.meta.events.register(f"before-call.{service}.{operation}", before_call)

    return hook


class _Response:
    def __init__(self, status: int) -> None:
        self.status_code = status
        self.headers: dict[str, str] = {}


def test_a_refused_call_leaves_nothing_half_done_and_no_record(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-refused")
    # A second statement for API Gateway, so the first removal succeeds and the second one is refused.
    stack.client("lambda").add_permission(
        FunctionName=stack.function,
        StatementId="image-api-permission-test-stage",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-west-2:123456789012:{stack.outputs['RestApiId']}/test/GET/random",
    )
    before = snapshot(stack)
    drill = make_drill(stack, fresh, hook=refuse("RemovePermission", after=1))
    with pytest.raises(DrillError, match="AccessDenied.*nothing was left changed and the record was removed"):
        inject(drill, "api_permission_missing", **FAST)
    assert differences(before, snapshot(stack)) == {}  # both statements, the alarm armed, no record


def test_an_unreadable_record_still_removes_the_seeds_fault_and_fails(fresh):  # noqa: F811
    stack = gameday_stack(fresh, "gd-no-record")
    inject_fault_like_the_fault_function(stack)  # from a plain `trigger`, not recorded
    drill = make_drill(stack, fresh, hook=refuse("Scan", service="dynamodb"))
    result = restore(drill, **FAST)
    assert not result.ok
    assert "could not read the drill's record" in result.summary and "AccessDenied" in result.summary
    statements = snapshot(stack)["bucket_policy"]["Statement"]
    assert [s["Sid"] for s in statements] == ["SomeoneElses"]  # the fault is out, the other statement kept


def test_a_restore_with_no_record_and_no_fault_leaves_the_alarms_arming_exactly_as_found(fresh):  # noqa: F811
    """Armed stays armed and disarmed stays disarmed, and the alarm's actions are never touched on the way."""
    stack = gameday_stack(fresh, "gd-untouched")
    cloudwatch, alarm = stack.client("cloudwatch"), stack.outputs["CloudWatchAlarmName"]
    calls: list[str] = []

    def record(client) -> None:
        client.meta.events.register("before-call", lambda model, **_: calls.append(model.name))

    for armed in (False, True):
        (cloudwatch.enable_alarm_actions if armed else cloudwatch.disable_alarm_actions)(AlarmNames=[alarm])
        result = restore(make_drill(stack, fresh, hook=record), **FAST)
        assert cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["ActionsEnabled"] is armed
        assert not {"DisableAlarmActions", "EnableAlarmActions", "Invoke"} & set(calls), calls
        assert result.ok and "nothing to undo" in result.summary, result.summary
