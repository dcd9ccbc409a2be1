"""`python -m drill` end to end against a moto server: every root-cause kind, the healthy stack, errors.

All stacks live in one moto server under their own prefix, so the investigate subprocesses run in
parallel (each costs about a second of interpreter start-up).
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import botocore.loaders
import pytest
from drill_fixtures import (
    MotoStack,
    build_stack,
    cli_env,
    delete_all_images,
    delete_parameter,
    inject_fault_like_the_fault_function,
    moto_server,  # noqa: F401  (fixture)
    point_parameter_at_missing_bucket,
    remove_role_permission,
    run_drill,
    start_investigations,
    throttle_function,
)

from drill import cli
from drill.parser import build_parser
from drill.region import NOT_A_REGION, is_region_name
from drill.rehearsal.moto_server import free_port

CASES: dict[str, tuple[Callable[[MotoStack], None] | None, str | None, Callable[[MotoStack], str] | None]] = {
    # case: (fault applied, expected kind, expected resource)
    "healthy": (None, None, None),
    "policy": (inject_fault_like_the_fault_function, "bucket_policy_deny", lambda s: s.bucket),
    "role": (remove_role_permission, "role_permission_missing", lambda s: s.role_arn),
    "noparam": (delete_parameter, "parameter_missing", lambda s: s.parameter),
    "wrongbucket": (point_parameter_at_missing_bucket, "parameter_wrong_bucket", lambda s: s.parameter),
    "noimages": (delete_all_images, "no_images", lambda s: s.bucket),
    "throttled": (throttle_function, "function_throttled", lambda s: s.function),
}


# Stacks whose S3 objects the fault touches cannot carry the TLS-only policy in moto (it ignores
# conditions, so the policy would deny the deletion itself).
WITHOUT_TLS_POLICY = {"noimages"}


@pytest.fixture(scope="module")
def reports(moto_server, tmp_path_factory):  # noqa: F811
    """case -> (stack, exit code, parsed JSON report, stderr), plus "markdown" and "help" runs, in parallel."""
    folder = tmp_path_factory.mktemp("drill-cli")
    stacks, running = start_investigations(
        moto_server,
        folder,
        CASES,
        lambda case: build_stack(moto_server, f"aiops-demo-{case}", tls_only_policy=case not in WITHOUT_TLS_POLICY),
    )
    env = cli_env(moto_server)
    # The same throttled stack, read again for the human report.
    running["markdown"] = run_drill(
        "investigate", "--since", "10", "--outputs", str(folder / "throttled.json"), env=env
    )
    stacks["markdown"] = stacks["throttled"]
    running["help"] = run_drill("--help", env=env)
    results = {}
    for case, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        report = json.loads(stdout) if case in CASES and stdout.strip() else stdout
        results[case] = (stacks.get(case), process.returncode, report, stderr)
    return results


@pytest.mark.parametrize("case", [c for c in CASES if c != "healthy"])
def test_each_root_cause_kind_is_identified_through_the_cli(reports, case):
    stack, code, report, stderr = reports[case]
    _, kind, resource = CASES[case]
    assert code == 0, stderr
    assert report["status"] == "fault"
    assert report["root_cause"]["kind"] == kind
    assert report["root_cause"]["resource"] == resource(stack)
    assert report["hypotheses"][0]["kind"] == kind
    assert report["remediation"], "a fault comes with the command that fixes it"


def test_healthy_stack_reports_healthy_with_no_root_cause(reports):
    _, code, report, stderr = reports["healthy"]
    assert code == 0, stderr
    assert report["status"] == "healthy"
    assert report["root_cause"] is None
    # The stack's TLS-only Deny (Principal *, aws:SecureTransport=false) does not deny the role.
    policy = [e for e in report["evidence"] if e["source"] == "bucket_policy"]
    assert len(policy) == 1 and "none denies" in policy[0]["detail"]


def test_report_json_has_exactly_the_documented_shape(reports):
    _, _, report, _ = reports["policy"]
    assert set(report) == {
        *("status", "root_cause", "hypotheses", "evidence", "impact_path", "timeline", "remediation"),
        *("sources", "seconds", "tags"),  # issue 11 (per-source time) and issue 14 (tags found)
        *("incident", "shares"),  # issue 21 (a past incident's window, the failing share per source)
    }
    assert report["incident"] is None and set(report["shares"]) <= {"metrics", "logs", "access_logs"}
    assert set(report["root_cause"]) == {"kind", "resource", "summary", "actor", "changed_at"}
    assert all(set(h) == {"kind", "resource", "confidence", "evidence"} for h in report["hypotheses"])
    assert all(set(e) == {"id", "source", "time", "detail"} for e in report["evidence"])
    assert all(set(t) == {"time", "event"} for t in report["timeline"])
    ids = {e["id"] for e in report["evidence"]}
    assert set(report["hypotheses"][0]["evidence"]) <= ids  # hypotheses cite evidence, not copies of it
    assert [h["confidence"] for h in report["hypotheses"]] == sorted(
        (h["confidence"] for h in report["hypotheses"]), reverse=True
    )
    assert report["impact_path"][0].startswith(f"bucket policy of {reports['policy'][0].bucket}")
    assert report["remediation"][0] == "python -m drill restore"
    assert "aiops-demo-policy-fault-injector" in report["remediation"][1]
    assert '{"action":"restore"}' in report["remediation"][1]


def test_unavailable_sources_are_reported_not_fatal(reports):
    for case in ("healthy", "policy"):
        evidence = {e["id"]: e for e in reports[case][2]["evidence"]}
        # moto implements neither cloudtrail:LookupEvents nor cloudwatch:DescribeAlarmHistory.
        for source in ("cloudtrail", "alarm_history"):
            item = evidence[f"{source}-unavailable"]
            assert item["source"] == source
            assert "unavailable" in item["detail"]
        # ... and the other sources were still read.
        assert {"bucket_policy-1", "role_policy-1", "parameter-1", "images-1", "concurrency-1"} <= set(evidence)
    # Without CloudTrail the actor and time of the change are unknown, never invented.
    assert reports["policy"][2]["root_cause"]["actor"] is None
    assert reports["policy"][2]["root_cause"]["changed_at"] is None


def test_markdown_report_has_every_section(reports):
    stack, code, text, stderr = reports["markdown"]
    assert code == 0, stderr
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Summary", "## Root cause", "## Impact path", "## Timeline", "## Evidence", "## Remediation"]
    assert "- Kind: `function_throttled`" in text
    assert f"aws lambda delete-function-concurrency --function-name {stack.function}" in text


# ------------------------------------------------------------------------------------------ errors
def test_help_works_for_the_program_and_every_command(reports):
    _, code, text, _ = reports["help"]
    commands = ("status", "trigger", "investigate", "restore", "run", "arm", "disarm")
    assert code == 0 and all(command in text for command in commands)
    for command in commands:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([command, "--help"], out=io.StringIO())
        assert exit_info.value.code == 0


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["explode"],
        ["investigate", "--since", "0"],
        ["investigate", "--since", "soon"],
        ["trigger", "--timeout", "-1"],
        ["status", "--outputs"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2


NOT_FINITE = ("nan", "inf", "-inf", "1e400", "NaN", "infinity")
NUMERIC_OPTIONS = [
    ("investigate", "--since"),
    ("run", "--since"),
    ("run", "--trigger-timeout"),
    ("run", "--restore-timeout"),
    ("run", "--interval"),
    ("trigger", "--timeout"),
    ("trigger", "--interval"),
    ("trigger", "--restore-timeout"),
    ("restore", "--timeout"),
    ("restore", "--interval"),
    ("inject", "--timeout"),
    ("inject", "--interval"),
    ("gameday", "--timeout"),
    ("gameday", "--interval"),
    ("gameday", "--since"),
    ("gameday", "--restore-timeout"),
    ("traffic", "--rps"),
    ("traffic", "--duration"),
    ("traffic", "--rearm-timeout"),
]


def usage_error(argv: list[str], capsys) -> str:
    """The one line a usage error prints (exit 2, nothing on stdout, no traceback)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    captured = capsys.readouterr()
    assert exit_info.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, captured.err
    return captured.err


@pytest.mark.parametrize(("command", "option"), NUMERIC_OPTIONS)
def test_every_numeric_option_takes_only_finite_positive_numbers(command, option, capsys):
    options = {a.dest for a in parser_of(command)._actions if a.type is not None and a.option_strings}
    assert option.lstrip("-").replace("-", "_") in options
    for value in (*NOT_FINITE, "0", "-1", "1e300"):
        err = usage_error([command, f"{option}={value}"], capsys)
        assert f"argument {option}: '{value}' must be a number greater than 0" in err


def test_no_numeric_option_is_left_unchecked():
    """Every option of every command that takes a number is in NUMERIC_OPTIONS."""
    found = set()
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in subparsers.choices.items():
        for action in parser._actions:
            if action.option_strings and action.type not in (None, str) and action.dest != "region":
                found.add((command, action.option_strings[0]))
    assert found == set(NUMERIC_OPTIONS)


def parser_of(command: str) -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices[command]


@pytest.mark.parametrize("region", ["mars-1", "us west 2", "", "us-east-1\n", "US-EAST-1", "us-east"])
def test_a_region_that_is_not_a_region_name_is_a_usage_error_naming_it(region, capsys):
    err = usage_error(["status", "--region", region, "--outputs", "never-read.json"], capsys)
    assert f"argument --region: {region!r} is not an AWS region name" in err
    assert "e.g. us-east-1" in err


def test_region_names_come_from_botocores_partitions(monkeypatch, tmp_path):
    for region in ("us-east-1", "eu-central-2", "ap-southeast-5", "cn-north-1", "us-gov-west-1", "us-isob-east-1"):
        assert is_region_name(region), region
    endpoints = botocore.loaders.create_loader().load_data("endpoints")
    for partition in endpoints["partitions"]:  # every region botocore knows, in every partition
        assert all(is_region_name(name) for name in partition["regions"]), partition["partition"]
    # A region from the environment is checked too, before any AWS call (the endpoint would not answer).
    monkeypatch.setenv("AWS_REGION", "mars-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    code, out, err = run_main("status", "--outputs", write_outputs(tmp_path, full_outputs()))
    assert code == 2 and out == ""
    assert err == f"drill: error: AWS_REGION 'mars-1' {NOT_A_REGION}\n"


def write_outputs(tmp_path: Path, outputs: dict[str, str]) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return str(path)


def run_main(*argv: str, **kwargs) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def test_missing_output_key_is_named_in_one_line(tmp_path):
    outputs = write_outputs(tmp_path, {"S3BucketName": "b", "LambdaFunctionName": "aiops-demo-dev-image-api"})
    code, out, err = run_main("investigate", "--outputs", outputs)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "'BucketNameParameter'" in err and outputs in err


def test_unreadable_outputs_file_and_missing_pulumi_are_usage_errors(tmp_path):
    code, _, err = run_main("status", "--outputs", str(tmp_path / "nope.json"))
    assert code == 2 and "cannot read outputs file" in err

    def no_pulumi(*args, **kwargs):
        raise FileNotFoundError("pulumi")

    code, _, err = run_main("status", "--stack", "dev", runner=no_pulumi)
    assert code == 2 and "pulumi CLI not found" in err and "--outputs" in err


def full_outputs(prefix: str = "aiops-demo-dev", fault_chain: bool = True) -> dict[str, str]:
    outputs = {
        "S3BucketName": f"{prefix}-images",
        "LambdaFunctionName": f"{prefix}-image-api",
        "BucketNameParameter": f"/{prefix}/bucket-name",
        "ApiEndpoint": "https://a1b2c3d4e5.execute-api.us-west-2.amazonaws.com/prod/random",
        "ApiGateway5XXAlarmName": f"{prefix}-api-5xx-alarm",
    }
    if fault_chain:
        outputs |= {
            "BucketPolicyLambdaName": f"{prefix}-fault-injector",
            "CloudWatchAlarmName": f"{prefix}-lambda-trigger-alarm",
        }
    return outputs


@pytest.mark.parametrize("command", ["trigger", "run"])
def test_trigger_on_a_stack_without_the_fault_chain_says_so(tmp_path, command):
    code, _, err = run_main(command, "--outputs", write_outputs(tmp_path, full_outputs(fault_chain=False)))
    assert code == 2
    assert err.count("\n") == 1 and "without the fault chain" in err and "BucketPolicyLambdaName" in err


def test_missing_credentials_are_one_line_exit_2(tmp_path, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, _, err = run_main("investigate", "--outputs", write_outputs(tmp_path, full_outputs()))
    assert code == 2
    assert err.count("\n") == 1 and "no AWS credentials found" in err


def test_unreachable_endpoint_is_one_line_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    code, _, err = run_main("investigate", "--outputs", write_outputs(tmp_path, full_outputs()))
    assert code == 1
    assert err.count("\n") == 1 and "cannot reach the AWS endpoint http://127.0.0.1:" in err
