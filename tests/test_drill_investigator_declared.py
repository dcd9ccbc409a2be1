"""Which declared state `python -m drill investigate` and `run` compare with (issue 21 §5): the export from
the Pulumi CLI through the CLI's runner seam, else the program under mocks, else none; each said in a note."""

from __future__ import annotations

import io
import json
import subprocess
from types import SimpleNamespace

import pytest

from drill import cli
from drill.investigator.declared import Declared, DeclaredFunction, DeclaredUnavailable
from drill.outputs import IMAGE_FUNCTION

FUNCTION = "aiops-demo-v3-image-api"
URN = "urn:pulumi:v3::aiops-demo::"


def export() -> dict:
    """`pulumi stack export` in Pulumi's deployment format v3: a function whose physical name is the stack's
    output, and one (another stack's leftover) with the same logical name that must not match."""
    declared = {"timeout": 10, "memorySize": 256, "handler": "handler.handler", "runtime": "python3.13"}

    def function(name: str, timeout: int) -> dict:
        values = {**declared, "timeout": timeout, "name": name}
        return {
            "urn": f"{URN}aiops:index:ImageService$aiops:index:PythonFunction$aws:lambda/function:Function::images-api",
            "custom": True,
            "id": name,
            "type": "aws:lambda/function:Function",
            "inputs": values,
            "outputs": {**values, "arn": f"arn:aws:lambda:us-west-2:123456789012:function:{name}"},
        }

    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-11-25T09:00:00Z", "magic": "0" * 64, "version": "v3.272.0"},
            "resources": [
                {"urn": f"{URN}pulumi:pulumi:Stack::aiops-demo-v3", "custom": False, "type": "pulumi:pulumi:Stack"},
                function("someone-elses-image-api", 3),
                function(FUNCTION, 10),
            ],
        },
    }


class Pulumi:
    """The Pulumi CLI as the runner seam sees it: `stack output --json` and `stack export`."""

    def __init__(self, export_code: int = 0):
        self.calls: list[list[str]] = []
        self.export_code = export_code

    def __call__(self, command, **kwargs):
        self.calls.append(command)
        if command[:3] == ["pulumi", "stack", "output"]:
            return subprocess.CompletedProcess(command, 0, stdout=json.dumps({IMAGE_FUNCTION: FUNCTION}), stderr="")
        if self.export_code:
            return subprocess.CompletedProcess(command, self.export_code, stdout="", stderr="error: no stack")
        return subprocess.CompletedProcess(command, 0, stdout=json.dumps(export()), stderr="")


@pytest.fixture
def seen(monkeypatch) -> list:
    """What the investigate step was given; the step itself is the investigator's, tested on moto."""
    given: list = []

    def step(drill, *, since_minutes, declared=None):
        given.append(declared)
        return SimpleNamespace(lines=["investigated"]), None

    monkeypatch.setattr(cli.steps, "investigate_step", step)
    monkeypatch.setitem(cli.NEEDED, "investigate", (IMAGE_FUNCTION,))
    return given


def make(args, outputs, err):
    return SimpleNamespace(outputs=outputs, account="123456789012")


def investigate(*argv: str, runner=None) -> tuple[int, str]:
    err = io.StringIO()
    code = cli.main(["investigate", *argv], out=io.StringIO(), err=err, runner=runner or Pulumi(), make=make)
    return code, err.getvalue()


def program_never(stack: str, function_name: str) -> Declared:
    raise AssertionError("the program must not run when the export answers")


def test_outputs_from_the_cli_compare_with_pulumi_stack_export_matched_by_the_stacks_output(seen, monkeypatch):
    monkeypatch.setattr(cli, "program_source", lambda root, account: program_never)
    pulumi = Pulumi()
    code, err = investigate("--stack", "v3", runner=pulumi)
    assert code == 0
    assert pulumi.calls == [
        ["pulumi", "stack", "output", "--json", "--stack", "v3"],
        ["pulumi", "stack", "export", "--stack", "v3"],
    ]
    (declared,) = seen
    assert declared.function.timeout == 10  # the stack's function, not the leftover with the same logical name
    assert declared.function.memory_size == 256
    assert "drill: note: declared state: `pulumi stack export --stack v3` (Pulumi's state at the last update)" in err


def fake_program(calls: list):
    def program(stack: str, function_name: str) -> Declared:
        calls.append((stack, function_name))
        function = DeclaredFunction(30, 128, "handler.handler", "python3.13", ())
        return Declared(source="the program under mocks: the working copy, which may differ", function=function)

    return program


def test_with_outputs_from_a_file_the_program_under_mocks_is_the_declared_state(seen, monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setattr(cli, "program_source", lambda root, account: fake_program(calls))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({IMAGE_FUNCTION: FUNCTION}))
    pulumi = Pulumi()
    code, err = investigate("--outputs", str(outputs), runner=pulumi)
    assert code == 0 and pulumi.calls == []  # the CLI is never asked
    assert calls == [("dev", FUNCTION)]  # the default stack's configuration
    assert seen[0].function.timeout == 30
    assert "declared state: the program under mocks: the working copy, which may differ" in err
    assert "the outputs came from --outputs" in err


def test_an_export_that_fails_falls_back_to_the_program_and_says_why(seen, monkeypatch):
    calls: list = []
    monkeypatch.setattr(cli, "program_source", lambda root, account: fake_program(calls))
    code, err = investigate("--stack", "prod", runner=Pulumi(export_code=255))
    assert code == 0 and calls == [("prod", FUNCTION)]
    assert "under mocks" in err and "`pulumi stack export --stack prod` failed: error: no stack" in err


def test_without_either_source_the_investigation_goes_on_without_one_and_says_so(seen, monkeypatch):
    def program(stack: str, function_name: str) -> Declared:
        raise DeclaredUnavailable("stack file Pulumi.prod.yaml not found")

    monkeypatch.setattr(cli, "program_source", lambda root, account: program)
    code, err = investigate("--stack", "prod", runner=Pulumi(export_code=255))
    assert code == 0 and seen == [None]
    assert "no declared state (" in err and "Pulumi.prod.yaml not found" in err and "drift is not compared" in err


def test_the_declared_state_cache_is_written_whole_and_a_torn_file_is_a_miss(tmp_path):
    """Drills running at once share the cache: a reader never fails on a file another one is writing."""
    from drill.declared.program import _read_cache, _write_cache

    path = tmp_path / "cache" / "declared-key.json"
    assert _read_cache(path) is None  # none yet
    path.parent.mkdir()
    path.write_text('{"version": 3, "deploy', encoding="utf-8")  # what a reader sees of a half-written file
    assert _read_cache(path) is None
    document = {"version": 3, "deployment": {"resources": []}}
    _write_cache(path, document)
    assert _read_cache(path) == document
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # the temporary file was renamed into place
