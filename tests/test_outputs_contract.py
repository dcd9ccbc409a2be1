"""One contract for the stack's outputs (drill/outputs.py): what __main__.py exports is what it declares, and
the drill reads nothing else.

The program is run under mocks with the switches that change which outputs exist; the drill's sources are
read as syntax trees: every output they read goes through the contract's constants, never a literal name.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest
from conftest import ROOT, program_run

from drill import outputs as contract

PREFIX = "aiops-demo-dev"
DRILL = ROOT / "drill"

# Config, then whether the stack has the fault chain, an investigation group and the FIS experiments.
SWITCHES = {
    "defaults": ({}, True, True, False),
    "fault injection off": ({"faultInjectionEnabled": False}, False, True, False),
    "investigations off": ({"investigationsEnabled": False}, True, False, False),
    "fis on": ({"fisEnabled": True}, True, True, True),
}


def declared_names() -> dict[str, str]:
    """The contract's constants: NAME -> output name."""
    return {k: v for k, v in vars(contract).items() if k.isupper() and isinstance(v, str)}


@pytest.mark.parametrize("case", SWITCHES)
def test_the_program_exports_exactly_the_declared_outputs(case):
    config, fault_chain, group, fis = SWITCHES[case]
    run = program_run(config)
    mocks, exported = run.mocks, run.outputs
    assert set(exported) == contract.exports(fault_chain=fault_chain, investigation_group=group, fis=fis)
    unknown = [k for k, v in exported.items() if not (isinstance(v, str) and v)]
    assert unknown == [contract.SEED_RESULT]  # the mocks run no Invocation: it has no result
    # The outputs that replace what the drill used to derive from naming rules carry the real names.
    api = mocks.one("aws:apigateway/restApi:RestApi")
    alarms = {a.name: a.inputs["name"] for a in mocks.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert exported[contract.REST_API_NAME] == api.inputs["name"]
    assert exported[contract.NAME_PREFIX] == PREFIX
    assert exported[contract.API_5XX_ALARM] == alarms["observability-api-5xx"]
    assert exported[contract.ERRORS_ALARM] == alarms["observability-image-api-errors"]
    assert exported[contract.LATENCY_ALARM] == alarms["observability-api-latency"]
    if fault_chain:
        assert exported[contract.INVOCATIONS_ALARM] == alarms["fault-alarm"]


def test_every_declared_name_is_one_the_program_may_export():
    declared = declared_names()
    assert sorted(declared.values()) == sorted(set(contract.EXPORTS)), "a constant that is not an export"
    assert len(contract.EXPORTS) == len(set(contract.EXPORTS))


# ------------------------------------------------------------------------------------------------ the drill
@cache
def drill_sources() -> tuple[tuple[Path, ast.Module], ...]:
    """Every drill module but the contract, parsed once for the tests that read them (they only walk the trees)."""
    paths = [p for p in sorted(DRILL.rglob("*.py")) if p != DRILL / "outputs.py"]
    return tuple((path, ast.parse(path.read_text(encoding="utf-8"))) for path in paths)


def _names_outputs(node: ast.expr) -> bool:
    """`outputs`, `drill.outputs`, `replica.outputs`, `stack_outputs`: a variable or attribute of outputs."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "output" in name.lower()


def literal_reads(tree: ast.AST) -> list[str]:
    """Output names read as literals: `x.get("Name")`, `x.require("Name")`, `outputs["Name"]`, where the
    receiver is a variable or attribute named for outputs."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            key, receiver = node.args[0], node.func.value
            reads = node.func.attr in ("get", "require")
        elif isinstance(node, ast.Subscript):
            key, receiver, reads = node.slice, node.value, True
        else:
            continue
        if reads and _names_outputs(receiver) and isinstance(key, ast.Constant) and isinstance(key.value, str):
            found.append(key.value)
    return found


def test_the_drill_reads_outputs_only_through_the_contracts_constants():
    names = set(contract.EXPORTS)
    offenders = []
    for path, tree in drill_sources():
        where = path.relative_to(ROOT)
        offenders += [f"{where}: reads {key!r}" for key in literal_reads(tree)]
        offenders += [
            f"{where}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names
        ]
    assert offenders == []


def test_every_contract_name_the_drill_uses_is_declared():
    """`stack.X`, `contract.X` and names imported from drill.outputs/drill.stack: all are the contract's."""
    declared = set(declared_names())
    used = set()
    for _, tree in drill_sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in ("drill.outputs", "drill.stack"):
                used |= {a.name for a in node.names if a.name.isupper()}
            elif isinstance(node, ast.Attribute) and node.attr.isupper() and isinstance(node.value, ast.Name):
                used |= {node.attr} if node.value.id in ("stack", "contract", "outputs_contract") else set()
    assert used, "the scan found no reads at all"
    assert used <= declared, used - declared


def test_the_scan_sees_a_literal_read():
    tree = ast.parse('drill.outputs.get("ImageFunctionRoleArn")\noutputs["Whatever"]\nvalues.get("x")')
    assert literal_reads(tree) == ["ImageFunctionRoleArn", "Whatever"]


@pytest.mark.parametrize("package", ["components", "functions"])
def test_components_and_functions_never_import_the_drill(package):
    imports = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imports += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                imports.append(node.module)
    assert [m for m in imports if m == "drill" or m.startswith("drill.")] == []


def test_the_contract_imports_nothing():
    """__main__.py imports it: it must not pull the drill (or anything but the standard library) in."""
    tree = ast.parse((DRILL / "outputs.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert modules <= {"__future__", "collections.abc", "typing"}


# ------------------------------------------------------------------------------------ what the drill derives
ROLE = "arn:aws:iam::123456789012:role/declared-role"
RUNS_AS = "arn:aws:iam::123456789012:role/configured-role"


class FakeAws:
    """The four calls resolve_target makes, answering from fixed data and recording who was asked."""

    def __init__(self, alarm_dims: dict[str, str] | None = None) -> None:
        self.asked: list[str] = []
        self.alarm_dims = alarm_dims

    def get_function_configuration(self, FunctionName):  # noqa: N803 (boto3's names)
        self.asked.append(f"lambda {FunctionName}")
        return {"Role": RUNS_AS}

    def get_role(self, RoleName):  # noqa: N803
        return {"Role": {"RoleId": "AROAEXAMPLE"}}

    def describe_alarms(self, AlarmNames):  # noqa: N803
        self.asked.append(f"alarm {AlarmNames[0]}")
        dims = [{"Name": k, "Value": v} for k, v in (self.alarm_dims or {}).items()]
        return {"MetricAlarms": [{"Dimensions": dims}] if self.alarm_dims is not None else []}

    def get_paginator(self, name):
        self.asked.append(name)
        return type("Pages", (), {"paginate": lambda _: [{"items": [{"id": "found-id", "name": "seed-api"}]}]})()


def resolved(outputs: dict[str, str], fake: FakeAws):
    import boto3

    from drill.aws import Clients
    from drill.investigator.target import resolve_target

    clients = Clients(boto3.session.Session(region_name="us-west-2"))
    for service in ("lambda", "iam", "cloudwatch", "apigateway"):
        clients.use(service, fake)
    return resolve_target(outputs, clients, account="123456789012", region="us-west-2")


BASE = {contract.BUCKET: "b", contract.IMAGE_FUNCTION: "p-image-api", contract.PARAMETER: "/p/bucket-name"}


def test_the_investigator_takes_the_api_name_and_title_from_outputs_not_from_naming_rules():
    outputs = {
        **BASE,
        contract.REST_API_NAME: "renamed-api",
        contract.REST_API_ID: "abc123",
        contract.NAME_PREFIX: "workshop-7",  # not what "p-image-api" minus a suffix would suggest
        contract.API_5XX_ALARM: "renamed-5xx",
    }
    target = resolved(outputs, FakeAws({"ApiName": "another-api", "Stage": "prod"}))
    assert (target.api_name, target.api_stage, target.rest_api_id) == ("renamed-api", "prod", "abc123")
    assert target.prefix == "workshop-7"
    assert target.alarms == {"api_5xx": "renamed-5xx"}  # no alarm name is made up from a prefix


def test_a_stack_deployed_before_the_api_name_output_names_its_api_by_the_5xx_alarm():
    fake = FakeAws({"ApiName": "seed-api", "Stage": "prod"})
    target = resolved({**BASE, contract.API_5XX_ALARM: "seed-5xx"}, fake)
    assert (target.api_name, target.rest_api_id, target.prefix) == ("seed-api", "found-id", "p-image-api")
    assert "get_rest_apis" in fake.asked


def test_without_any_output_naming_the_api_nothing_is_guessed():
    fake = FakeAws()
    target = resolved(BASE, fake)
    assert (target.api_name, target.rest_api_id) == (None, None)
    assert "RestApiName" in target.notes["api_name"] and "get_rest_apis" not in fake.asked


def test_the_denied_role_is_the_output_and_lambda_is_asked_only_without_it():
    asked = []

    def configured() -> str:
        asked.append("lambda")
        return RUNS_AS

    assert contract.denied_role({contract.IMAGE_ROLE: ROLE}, configured) == ROLE and asked == []
    assert contract.denied_role({contract.IMAGE_ROLE: ""}, configured) == RUNS_AS and asked == ["lambda"]
    assert contract.denied_role({}, configured) == RUNS_AS


@pytest.mark.parametrize("declared", [ROLE, None])
def test_the_drills_restore_and_the_investigator_deny_the_same_role(declared):
    """Both go through `denied_role`: the declared role if the stack exports it, else the one Lambda reports."""
    from types import SimpleNamespace

    from drill.stack import StackOutputs
    from drill.steps.fault import image_role_arn

    outputs = {**BASE, **({contract.IMAGE_ROLE: declared} if declared else {})}
    fake = FakeAws()
    drill = SimpleNamespace(outputs=StackOutputs(values=outputs, origin="test"), clients=SimpleNamespace(lambda_=fake))
    target = resolved(outputs, FakeAws())

    assert image_role_arn(drill) == target.fault_role_arn == (declared or RUNS_AS)
    assert fake.asked == ([] if declared else ["lambda p-image-api"])
