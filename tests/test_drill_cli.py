"""`python -m drill`'s command line in process: usage errors, numeric options, regions, outputs, credentials.

The same commands end to end (`python -m drill` subprocesses against a moto server, every root-cause kind)
are in test_drill_cli_e2e.py.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import botocore.loaders
import pytest

from drill import cli
from drill.parser import build_parser
from drill.region import NOT_A_REGION, is_region_name
from drill.rehearsal.moto_server import free_port


# ------------------------------------------------------------------------------------------ errors
def test_help_works_for_the_program_and_every_command(capsys):
    """In process (test_drill_cli_e2e.py runs `python -m drill --help` itself)."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    commands = ("status", "trigger", "investigate", "restore", "run", "arm", "disarm")
    assert all(command in text for command in commands)
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


def test_outputs_file_that_is_not_utf8_or_is_empty_is_a_usage_error(tmp_path):
    utf16 = tmp_path / "utf16.json"
    utf16.write_text(json.dumps({"S3BucketName": "b"}), encoding="utf-16")
    empty = tmp_path / "empty.json"
    empty.write_text("\n")
    for path, problem in ((utf16, "is not UTF-8"), (empty, "is empty")):
        code, out, err = run_main("status", "--outputs", str(path))
        assert code == 2 and out == "", err
        assert err.startswith(f"drill: error: outputs file {path} {problem}") and err.count("\n") == 1


def test_every_missing_output_is_named_in_one_message(tmp_path):
    code, out, err = run_main("run", "--outputs", write_outputs(tmp_path, {"S3BucketName": "b"}))
    assert code == 2 and out == "" and err.count("\n") == 1
    for key in ("LambdaFunctionName", "BucketNameParameter", "ApiEndpoint"):
        assert repr(key) in err


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
