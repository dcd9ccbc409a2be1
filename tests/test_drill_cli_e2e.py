"""`python -m drill` end to end against a moto server: every root-cause kind, the healthy stack, the help.

All stacks live in one moto server under their own prefix, so the investigate subprocesses run in
parallel (each costs about a second of interpreter start-up). The command line's in-process tests (usage
errors, options, outputs) are in test_drill_cli.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable

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

pytestmark = pytest.mark.e2e  # drill subprocesses against a moto server: the `.ci/run` e2e step

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


def test_the_programs_help_lists_every_command(reports):
    _, code, text, _ = reports["help"]
    commands = ("status", "trigger", "investigate", "restore", "run", "arm", "disarm")
    assert code == 0 and all(command in text for command in commands)
