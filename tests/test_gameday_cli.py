"""The game day's commands without AWS: the catalogue, usage errors (exit 2, one line), and docs/gameday.md."""

from __future__ import annotations

import io
import json

import pytest
from conftest import ACCOUNT, REGION, ROOT

from drill import cli
from drill.aws import Clients
from drill.investigator.model import REQUEST_PATH_ORDER
from drill.outputs import RECORD_TABLE, STANDBY_ROLE
from drill.scenarios import NAMES, SCENARIOS
from drill.steps import Drill, Probe

STACK = {
    "S3BucketName": "b",
    "LambdaFunctionName": "f",
    "BucketNameParameter": "/p/bucket-name",
    "ApiEndpoint": "https://x.execute-api.us-west-2.amazonaws.com/prod/random",
    "RestApiId": "x",
    RECORD_TABLE: "p-drill-records",
    STANDBY_ROLE: f"arn:aws:iam::{ACCOUNT}:role/standby",
}


def offline_drill(_args, outputs, _err) -> Drill:
    """A drill whose every AWS call would fail: these commands must stop before making one."""
    return Drill(
        outputs=outputs,
        clients=Clients(),
        account=ACCOUNT,
        region=REGION,
        api_probe=lambda: Probe(None, 0.0, "offline"),
        function_caller=lambda *_: None,
    )


def run(argv: list[str], tmp_path, outputs: dict[str, str] | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    if outputs is not None:
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        argv = [*argv, "--outputs", str(path)]
    try:
        code = cli.main(argv, out=out, err=err, make=offline_drill)
    except SystemExit as stop:  # argparse
        code = int(stop.code)
    return code, out.getvalue(), err.getvalue()


def test_scenarios_lists_the_catalogue_without_a_stack(tmp_path):
    code, out, _ = run(["scenarios", "--json"], tmp_path)
    listed = json.loads(out)["scenarios"]
    assert code == 0
    assert [s["name"] for s in listed] == list(NAMES)
    # The nine kinds issue 19 asks the catalogue to cover, one scenario each, and issue 20's two FIS kinds.
    assert sorted(s["kind"] for s in listed) == sorted(
        {
            "fis_latency_injected",
            "fis_errors_injected",
            "bucket_policy_deny",
            "role_permission_missing",
            "parameter_wrong_bucket",
            "parameter_missing",
            "function_throttled",
            "function_environment_changed",
            "function_role_changed",
            "api_permission_missing",
            "api_throttled",
        }
    )
    assert {s["kind"] for s in listed} <= set(REQUEST_PATH_ORDER)  # every scenario's kind is one it can name
    assert all(set(s) == {"name", "kind", "resource", "mechanism", "summary", "undo"} for s in listed)
    assert [s["mechanism"] for s in listed] == ["fault-function"] + ["direct"] * 8 + ["fis"] * 2
    code, text, _ = run(["scenarios"], tmp_path)
    assert code == 0 and all(name in text for name in NAMES)


def test_an_unknown_scenario_is_exit_2_with_every_name(tmp_path, capsys):
    code, _, _ = run(["inject", "--scenario", "disk_full"], tmp_path, STACK)
    err = capsys.readouterr().err  # argparse writes to sys.stderr
    assert code == 2
    assert "invalid choice: 'disk_full'" in err and all(name in err for name in NAMES)


@pytest.mark.parametrize(
    ("scenario", "missing", "reason"),
    [
        ("bucket_policy_deny", None, "faultInjectionEnabled=false"),
        ("function_role_changed", STANDBY_ROLE, f"stack output {STANDBY_ROLE} missing"),
        ("parameter_missing", RECORD_TABLE, f"stack output {RECORD_TABLE} missing"),
        ("function_latency", None, "deployed with fisEnabled=false: output FisLatencyExperimentTemplateId"),
        ("function_errors", None, "deployed with fisEnabled=false: output FisErrorsExperimentTemplateId"),
    ],
)
def test_a_scenario_the_stack_cannot_run_is_exit_2_with_the_reason(tmp_path, scenario, missing, reason):
    outputs = {k: v for k, v in STACK.items() if k != missing}  # STACK has no fault chain
    code, out, err = run(["inject", "--scenario", scenario], tmp_path, outputs)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and f"scenario {scenario} cannot run on this stack" in err and reason in err


def test_docs_list_every_scenario_command_and_option():
    page = (ROOT / "docs" / "gameday.md").read_text(encoding="utf-8")
    for scenario in SCENARIOS:
        row = next((line for line in page.splitlines() if line.startswith(f"| `{scenario.name}`")), "")
        assert row and f"`{scenario.kind}`" in row, scenario.name
        for call in scenario.calls:  # each call, with its API reference page
            assert f"[{call.split(':')[1]}](" in row, (scenario.name, call)
    usages = (
        "drill scenarios",
        "drill inject --scenario",
        "restore --force",
        "trigger --scenario",
        "run --scenario",
        "drill gameday",
    )
    for usage in (*usages, "--answer KIND", "--json"):
        assert usage in page, usage


def test_ctrl_c_during_inject_says_to_run_restore(tmp_path):
    def interrupted(*_args):
        raise KeyboardInterrupt

    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(STACK))
    err = io.StringIO()
    code = cli.main(["inject", "--scenario", "api_throttled", "--outputs", str(path)], err=err, make=interrupted)
    assert code == 130 and "run `restore` to undo whatever it recorded" in err.getvalue()
