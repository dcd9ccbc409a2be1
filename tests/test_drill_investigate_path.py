"""`python -m drill investigate --json` against a moto server: the request-path kinds (issue 11), compound
faults, the no-false-alarm rules, `unknown`, and the tags found (issue 14).

Every stack lives in one moto server under its own prefix; the subprocesses run in parallel. Symptoms
moto cannot produce (the function's error lines, API Gateway's datapoints) are written as the function
and API Gateway write them (drill_fixtures.write_error_lines / write_api_datapoints).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from drill_fixtures import (
    MotoStack,
    add_inapplicable_bucket_statements,
    bound_role_to_logs,
    build_stack,
    change_description_and_tags,
    change_function_environment,
    deny_role_with_managed_policy,
    drop_tag,
    inject_fault_like_the_fault_function,
    moto_server,  # noqa: F401  (fixture)
    permit_another_route,
    remove_api_permission,
    start_investigations,
    swap_function_role,
    throttle_api,
    write_api_datapoints,
    write_error_lines,
)

pytestmark = pytest.mark.e2e  # drill subprocesses against a moto server: the `.ci/run` e2e step


def permission_gone(stack: MotoStack) -> None:
    remove_api_permission(stack)
    write_api_datapoints(stack, count=20, e5xx=20)


def environment_elsewhere(stack: MotoStack) -> None:
    change_function_environment(stack, "/elsewhere/bucket-name")
    write_error_lines(stack, "ParameterNotFound", "GetParameter", parameter="/elsewhere/bucket-name")


def role_swapped(stack: MotoStack) -> None:
    stack.other_role = swap_function_role(stack)
    write_error_lines(stack, "AccessDeniedException", "GetParameter")


def api_throttled(stack: MotoStack) -> None:
    throttle_api(stack)
    write_api_datapoints(stack, count=40, e4xx=40)


def compound(stack: MotoStack) -> None:
    """The bucket denies the role (with matching error lines: the best-supported cause), and the
    function's environment was changed too: a request meets the environment first."""
    inject_fault_like_the_fault_function(stack)
    write_error_lines(stack, "AccessDenied", "GetObject", bucket=stack.bucket)
    change_function_environment(stack, "/elsewhere/bucket-name")


def front_compound(stack: MotoStack) -> None:
    """The permission now names POST /random, and the stage is throttled: the stage rejects the request
    before API Gateway would invoke the function."""
    permit_another_route(stack)
    throttle_api(stack)


def identity_denies(stack: MotoStack) -> None:
    """A customer-managed policy denies s3:GetObject and a permissions boundary allows only Logs."""
    deny_role_with_managed_policy(stack)
    bound_role_to_logs(stack)


def quiet(stack: MotoStack) -> None:
    """Nothing that can break a request, on a stack deployed before the RestApiId and
    ImageFunctionRoleArn outputs existed: statements that do not apply to the role, a description and
    tag change, a missing tag."""
    add_inapplicable_bucket_statements(stack)
    change_description_and_tags(stack)
    drop_tag(stack, "Stack")
    del stack.outputs["RestApiId"], stack.outputs["ImageFunctionRoleArn"]


def symptoms_only(stack: MotoStack) -> None:
    write_api_datapoints(stack, count=10, e5xx=6)
    write_error_lines(stack, "AccessDenied", "GetObject", bucket=stack.bucket)


Resource = Callable[[MotoStack], str]
FUNCTION: Resource = lambda s: s.function  # noqa: E731
ROLE: Resource = lambda s: s.role_arn  # noqa: E731
API: Resource = lambda s: s.api_id  # noqa: E731

# case: (fault and symptoms, expected root cause kind (None: healthy), its resource)
CASES: dict[str, tuple[Callable[[MotoStack], None] | None, str | None, Resource | None]] = {
    "healthy": (None, None, None),
    "perm-gone": (permission_gone, "api_permission_missing", FUNCTION),
    "env": (environment_elsewhere, "function_environment_changed", FUNCTION),
    "role-swap": (role_swapped, "function_role_changed", FUNCTION),
    "throttle": (api_throttled, "api_throttled", API),
    "identity": (identity_denies, "role_permission_missing", ROLE),
    "compound": (compound, "function_environment_changed", FUNCTION),
    "front": (front_compound, "api_throttled", API),
    "unknown": (symptoms_only, "unknown", lambda s: f"{s.prefix}-api/prod"),
    "quiet": (quiet, None, None),
}
PREFIX = "aiops-demo-path-"  # test_drill_cli's stacks share moto's backends: other names


@pytest.fixture(scope="module")
def reports(moto_server, tmp_path_factory):  # noqa: F811
    """case -> (stack, parsed JSON report); each run starts as soon as its stack is ready."""
    folder = tmp_path_factory.mktemp("drill-path")

    def make_stack(case: str) -> MotoStack:
        stack = build_stack(moto_server, f"{PREFIX}{case}", images=1, fault_chain=False)
        stack.api_id = stack.outputs["RestApiId"]
        return stack

    stacks, running = start_investigations(moto_server, folder, CASES, make_stack)
    results = {}
    for case, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, f"{case}: {stderr}"
        results[case] = (stacks[case], json.loads(stdout))
    return results


def evidence(report: dict, source: str) -> list[dict]:
    return [e for e in report["evidence"] if e["source"] == source]


def hypothesis(report: dict, kind: str) -> dict:
    return next(h for h in report["hypotheses"] if h["kind"] == kind)


@pytest.mark.parametrize("case", [c for c, (_, kind, _) in CASES.items() if kind])
def test_each_cause_on_the_request_path_is_named_with_its_resource(reports, case):
    stack, report = reports[case]
    _, kind, resource = CASES[case]
    assert report["status"] == "fault"
    assert report["root_cause"]["kind"] == kind
    assert report["root_cause"]["resource"] == resource(stack)
    assert report["hypotheses"][0]["kind"] == kind  # the root cause first
    assert report["remediation"]


@pytest.mark.parametrize("case", ["healthy", "quiet"])
def test_stacks_without_symptoms_or_causes_are_healthy(reports, case):
    _, report = reports[case]
    assert report["status"] == "healthy", report["hypotheses"]
    assert report["root_cause"] is None
    assert not [h for h in report["hypotheses"] if h["confidence"] >= 0.5]


def test_api_permission_evidence_names_the_api_and_route(reports):
    stack, report = reports["perm-gone"]
    api = stack.api_id
    (policy,) = evidence(report, "function_policy")
    assert f"arn:aws:execute-api:us-west-2:123456789012:{api}/prod/GET/random" in policy["detail"]
    assert report["remediation"][1] == (
        f"aws lambda add-permission --function-name {stack.function} --statement-id AllowApiGatewayInvokeRandom "
        "--action lambda:InvokeFunction --principal apigateway.amazonaws.com "
        f"--source-arn arn:aws:execute-api:us-west-2:123456789012:{api}/*/GET/random --source-account 123456789012"
    )
    # API Gateway answered 500 without invoking the function: the 5XX datapoints are cited.
    metrics = {e["id"] for e in evidence(report, "metrics") if "5XX: 20" in e["detail"]}
    assert metrics and metrics <= set(report["hypotheses"][0]["evidence"])
    # A statement for another route is named, and does not count.
    (post,) = evidence(reports["front"][1], "function_policy")
    assert "image-api-permission-post" in post["detail"] and "/*/POST/random" in post["detail"]


def test_environment_change_is_compared_with_the_declared_parameter(reports):
    stack, report = reports["env"]
    assert report["root_cause"]["summary"].startswith(f"The image function {stack.function}'s BUCKET_NAME_PARAMETER")
    assert stack.parameter in report["root_cause"]["summary"]
    fix = report["remediation"][1]
    assert fix.startswith(f"aws lambda update-function-configuration --function-name {stack.function} --environment ")
    variables = json.loads(fix.split("--environment ", 1)[1].strip("'"))["Variables"]
    assert variables == {"BUCKET_NAME_PARAMETER": stack.parameter, "IMAGE_CACHE_TTL_SECONDS": "60"}
    logs = [e["id"] for e in evidence(report, "logs")]
    assert logs and logs[0] in report["hypotheses"][0]["evidence"]  # the ParameterNotFound lines corroborate


def test_role_swap_is_the_cause_and_the_other_roles_gaps_stay_hypotheses(reports):
    stack, report = reports["role-swap"]
    assert report["remediation"][1] == (
        f"aws lambda update-function-configuration --function-name {stack.function} --role {stack.role_arn}"
    )
    missing = hypothesis(report, "role_permission_missing")
    assert missing["resource"] == stack.other_role


def test_throttled_stage_is_found_from_4xx_while_the_5xx_alarm_stays_quiet(reports):
    stack, report = reports["throttle"]
    api = stack.api_id
    assert "every request gets 429" in report["root_cause"]["summary"]
    assert "40 4XX of 40 requests" in report["root_cause"]["summary"]
    assert report["remediation"][1] == (
        f"aws apigateway update-stage --rest-api-id {api} --stage-name prod --patch-operations "
        "op=replace,path=/*/*/throttling/rateLimit,value=100 op=replace,path=/*/*/throttling/burstLimit,value=50"
    )
    assert report["impact_path"][-1].startswith(f"API {stack.prefix}-api/prod: 429 Too Many Requests")


def test_identity_policy_denies_name_the_policy_and_the_boundary(reports):
    stack, report = reports["identity"]
    managed = f"managed policy {stack.prefix}-deny-images statement NoImages"
    boundary = f"permissions boundary {stack.prefix}-logs-only-boundary"
    summary = report["root_cause"]["summary"]
    assert managed in summary and boundary in summary
    cited = set(report["hypotheses"][0]["evidence"])
    for named in (managed, boundary):
        items = [e["id"] for e in evidence(report, "role_policy") if named in e["detail"]]
        assert items and set(items) <= cited
    assert any(
        c.startswith(f"aws iam detach-role-policy --role-name {stack.role_name} ") for c in report["remediation"]
    )
    assert f"aws iam delete-role-permissions-boundary --role-name {stack.role_name}" in report["remediation"]


@pytest.mark.parametrize(("case", "also"), [("compound", "bucket_policy_deny"), ("front", "api_permission_missing")])
def test_compound_faults_name_the_first_cause_on_the_path_and_keep_the_others(reports, case, also):
    _, report = reports[case]
    other = hypothesis(report, also)
    assert other["confidence"] >= 0.5 and other["evidence"]
    if case == "compound":  # the better-supported cause is not the root cause: the path decides
        assert other["confidence"] > report["hypotheses"][0]["confidence"]


def test_inapplicable_statements_and_harmless_changes_are_not_causes(reports):
    stack, report = reports["quiet"]
    (policy,) = evidence(report, "bucket_policy")
    assert "has 3 statements, none denies" in policy["detail"]  # TLS-only, another principal, TLS < 1.2
    # The description change moved LastModified; only the environment and the role are compared.
    (environment,) = [e for e in evidence(report, "function") if "BUCKET_NAME_PARAMETER" in e["detail"]]
    assert "the stack's parameter" in environment["detail"]
    assert not [h for h in report["hypotheses"] if h["kind"].startswith("function_")]


def test_symptoms_without_a_cause_are_unknown_never_healthy(reports):
    stack, report = reports["unknown"]
    root = report["root_cause"]
    assert report["status"] == "fault" and root["kind"] == "unknown"
    lines = [e["id"] for e in evidence(report, "logs") if "AccessDenied from GetObject" in e["detail"]]
    errors = [e["id"] for e in evidence(report, "metrics") if "5XX: 6 in the window" in e["detail"]]
    assert lines and errors and {*lines, *errors} <= set(report["hypotheses"][0]["evidence"])
    unchecked = " ".join(h["resource"] for h in report["hypotheses"][1:])
    for words in ("service control policies", "session policies", "service event"):
        assert words in unchecked and words in root["summary"]


def test_outputs_added_later_are_optional(reports):
    stack, report = reports["quiet"]
    (role,) = [e for e in evidence(report, "function") if "runs as" in e["detail"]]
    assert "not compared: stack output ImageFunctionRoleArn is absent" in role["detail"]
    # The API is found by its name, so its stage and the function's permission are still checked.
    assert report["sources"]["api"]["available"] and report["sources"]["function_policy"]["available"]


def test_report_names_the_tags_it_found_and_flags_missing_keys(reports):
    stack, report = reports["healthy"]
    kinds = {t["kind"] for t in report["tags"]}
    assert kinds == {"bucket", "function", "parameter", "alarm", "api", "role"}
    # The program's default tags (components/providers.py application_tags), as the fixture stack carries them.
    tags = {"Application": "aiops-demo", "Stack": "path-healthy", "NamePrefix": "aiops-demo-path-healthy"}
    assert all(t["tags"] == tags for t in report["tags"])
    assert all(t["missing"] == [] for t in report["tags"])
    flagged = [t for t in reports["quiet"][1]["tags"] if t["missing"]]
    assert [(t["kind"], t["missing"]) for t in flagged] == [("parameter", ["Stack"])]


def test_report_gives_each_sources_time(reports):
    _, report = reports["healthy"]
    assert set(report["sources"]) >= {"api", "function_policy", "function", "bucket_policy", "role_policy", "tags"}
    assert all(s["seconds"] >= 0 for s in report["sources"].values())
    assert report["sources"]["cloudtrail"]["available"] is False  # moto has no LookupEvents
    assert report["seconds"] >= max(s["seconds"] for s in report["sources"].values())
