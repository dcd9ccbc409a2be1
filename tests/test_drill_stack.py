"""Stack outputs: from a file or from `pulumi stack output --json`, with errors that name the problem."""

from __future__ import annotations

import json
import subprocess

import pytest

from drill.errors import UsageError
from drill.stack import load_outputs


def completed(returncode: int = 0, stdout: str = "", stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(args=[], returncode=returncode, stdout=stdout, stderr=stderr)


def test_outputs_file_is_read_and_missing_keys_are_named(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"S3BucketName": "b", "LambdaFunctionName": "f", "Extra": {"a": 1}}))
    outputs = load_outputs(str(path), None)
    assert outputs.require("S3BucketName") == "b"
    assert outputs.get("Extra") == '{"a": 1}'
    assert not outputs.fault_chain
    with pytest.raises(UsageError, match=f"'ApiEndpoint' is missing from outputs file {path}"):
        outputs.require("ApiEndpoint")


@pytest.mark.parametrize(("text", "message"), [("{not json", "is not JSON"), ("[1, 2]", "JSON object")])
def test_bad_outputs_file_is_a_usage_error(tmp_path, text, message):
    path = tmp_path / "outputs.json"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_outputs(str(path), None)


def test_pulumi_is_asked_for_the_chosen_stack():
    calls = []

    def runner(command, **kwargs):
        calls.append(command)
        return completed(stdout=json.dumps({"BucketPolicyLambdaName": "fi", "CloudWatchAlarmName": "al"}))

    outputs = load_outputs(None, "dev", runner=runner)
    assert calls == [["pulumi", "stack", "output", "--json", "--stack", "dev"]]
    assert outputs.fault_chain


def test_pulumi_failure_reports_its_first_error_line():
    def runner(command, **kwargs):
        return completed(1, stderr="\nerror: no stack named 'prod' found\nmore detail\n")

    with pytest.raises(UsageError, match=r"failed \(exit 1\): error: no stack named 'prod' found$"):
        load_outputs(None, "prod", runner=runner)


def test_missing_pulumi_cli_suggests_outputs_file():
    def runner(command, **kwargs):
        raise FileNotFoundError(command[0])

    with pytest.raises(UsageError, match="pulumi CLI not found on PATH.*--outputs FILE"):
        load_outputs(None, None, runner=runner)
