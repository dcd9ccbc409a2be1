"""`python -m drill preflight` (issue 18): read-only checks before `pulumi up`.

A moto server plays the account for what moto implements (names, the API Gateway account role,
credentials); what it lacks (aiops, Bedrock model access, lambda:GetAccountSettings) is stubbed with
botocore's Stubber against the real service models.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from concurrent.futures import Future
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, PROJECT, REGION, ROOT, new_session

from drill.aws import Clients
from drill.cli import main
from drill.preflight import checks
from drill.preflight.checks import Context
from drill.preflight.plan import ACCOUNT_SETTING, INVESTIGATION_GROUP, Plan
from drill.rehearsal.moto_server import aws_environment, isolated_environment, moto_server

GROUP_ARN = f"arn:aws:aiops:{REGION}:{ACCOUNT}:investigation-group/AbCdEfGhIjKlMnOp"
MODEL = "stability.stable-image-core-v1:1"


def preflight(*args: str) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["preflight", "--json", *args], out=out, err=err)
    return code, (json.loads(out.getvalue()) if out.getvalue() else {}), err.getvalue()


def rows(report: dict) -> dict[str, dict]:
    return {row["check"]: row for row in report["checks"]}


def tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def account():
    """An empty account: a moto server, and an environment whose AWS_* variables reach only it."""
    with moto_server() as moto, isolated_environment({**aws_environment(moto.url, REGION), "AWS_MAX_ATTEMPTS": "1"}):
        yield boto3.session.Session(region_name=REGION)


@pytest.mark.e2e  # a moto server, and the program run under mocks three times
def test_preflight_passes_on_an_empty_account_then_blocks_on_a_taken_name_and_the_account_role(account):
    code, report, _ = preflight()
    found = rows(report)
    assert code == 0, report
    assert found["credentials"]["status"] == "ok"
    assert found[f"Lambda function {PROJECT}-dev-image-api"] == {
        "check": f"Lambda function {PROJECT}-dev-image-api",
        "status": "ok",
        "detail": "free",
        "fix": "",
    }
    assert found["API Gateway account role"]["status"] == "ok"
    # What moto does not implement is a warning that says so, never a pass.
    for unavailable in ("investigation group", "Lambda concurrency", "image model access"):
        assert found[unavailable]["status"] == "warning"
        assert found[unavailable]["detail"].startswith("could not check")

    # Another attendee's stack, also called dev, without a namePrefix of its own.
    role = account.client("iam").create_role(RoleName="other", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    account.client("lambda").create_function(
        FunctionName=f"{PROJECT}-dev-image-api",
        Runtime="python3.13",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": tiny_zip()},
        Tags={"Application": PROJECT, "Stack": "dev", "NamePrefix": "aiops-demo-dev-bob"},
    )
    code, report, _ = preflight()
    taken = rows(report)[f"Lambda function {PROJECT}-dev-image-api"]
    assert code == 1
    assert taken["status"] == "blocking"
    assert "Application=aiops-demo, Stack=dev, NamePrefix=aiops-demo-dev-bob" in taken["detail"]
    assert f"{PROJECT}:namePrefix" in taken["fix"]

    account.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    code, report, _ = preflight()
    setting = rows(report)["API Gateway account role"]
    assert code == 1
    assert setting["status"] == "blocking"
    assert role in setting["detail"]
    assert f"{PROJECT}:apiGatewayAccountRole false" in setting["fix"]


@pytest.mark.e2e  # a moto server and the program run under mocks
def test_a_configuration_the_program_refuses_is_blocking_with_the_programs_message(account, tmp_path):
    for name in ("Pulumi.yaml", "__main__.py", "components", "functions"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  aws:region: us-west-2\n  aiops-demo:namePrefix: a.b\n")
    os.chdir(ROOT)
    from drill.preflight.command import exit_code, run_checks

    found = run_checks("bad", root=Path(tmp_path))
    assert exit_code(found) == 1
    assert found[-1].name == "configuration"
    assert found[-1].status == "blocking"
    assert found[-1].detail.startswith(f"config {PROJECT}:namePrefix = 'a.b'")


def test_missing_credentials_are_a_usage_error(monkeypatch):
    with isolated_environment(
        {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}
    ):
        code, report, err = preflight()
    assert code == 2 and not report
    assert err.startswith("preflight: error: no AWS credentials found")


def test_an_unknown_stack_file_is_a_usage_error():
    code, _, err = preflight("--stack", "nosuchstack")
    assert code == 2
    assert "Pulumi.nosuchstack.yaml not found" in err


# --------------------------------------------------------------------------------------------- stubbed
def context(*creates: str, settings: dict[str, str] | None = None) -> tuple[Context, Clients]:
    session = new_session()  # fake credentials (conftest); the service models read through one shared loader
    clients = Clients(session)
    for service in ("aiops", "bedrock", "lambda", "apigateway"):
        clients.use(service, session.client(service))
    planned: Future[Plan] = Future()
    planned.set_result(Plan(types=set(creates)))
    values = {f"{PROJECT}:imageModelId": MODEL, **(settings or {})}
    return Context(clients, planned, values, PROJECT, "dev", REGION, ACCOUNT), clients


def test_an_existing_investigation_group_blocks_a_stack_that_would_create_one():
    ctx, clients = context(INVESTIGATION_GROUP)
    with Stubber(clients.client("aiops")) as stub:
        stub.add_response("list_investigation_groups", {"investigationGroups": [{"arn": GROUP_ARN, "name": "x"}]})
        row = checks.investigation_group(ctx)
    assert row.status == "blocking"
    assert GROUP_ARN in row.detail
    assert f"{PROJECT}:sharedStack" in row.fix and f"{PROJECT}:investigationGroupArn to {GROUP_ARN}" in row.fix


def test_an_existing_investigation_group_is_fine_for_a_stack_that_creates_none():
    ctx, clients = context()
    with Stubber(clients.client("aiops")) as stub:
        stub.add_response("list_investigation_groups", {"investigationGroups": [{"arn": GROUP_ARN, "name": "x"}]})
        row = checks.investigation_group(ctx)
    assert row.status == "ok"


def test_a_denied_check_is_a_warning_that_says_so():
    ctx, clients = context(INVESTIGATION_GROUP)
    with Stubber(clients.client("aiops")) as stub:
        stub.add_client_error("list_investigation_groups", "AccessDeniedException", http_status_code=403)
        row = checks.investigation_group(ctx)
    assert row.status == "warning"
    assert "could not check" in row.detail and "AccessDeniedException" in row.detail


@pytest.mark.parametrize(("total", "status"), [(10, "warning"), (1000, "ok")])
def test_lambda_concurrency_of_a_new_account_is_a_warning(total, status):
    ctx, clients = context()
    with Stubber(clients.lambda_) as stub:
        stub.add_response(
            "get_account_settings",
            {"AccountLimit": {"ConcurrentExecutions": total, "UnreservedConcurrentExecutions": total}},
        )
        row = checks.concurrency(ctx)
    assert row.status == status
    assert f"{total} of {total} concurrent executions unreserved" in row.detail
    assert ("Concurrent executions" in row.fix) is (status == "warning")


def test_an_image_model_not_yet_enabled_is_a_warning_naming_the_one_time_step():
    ctx, clients = context()
    with Stubber(clients.client("bedrock")) as stub:
        stub.add_response(
            "get_foundation_model_availability",
            {
                "modelId": MODEL,
                "agreementAvailability": {"status": "NOT_AVAILABLE"},
                "authorizationStatus": "AUTHORIZED",
                "entitlementAvailability": "NOT_AVAILABLE",
                "regionAvailability": "AVAILABLE",
            },
            {"modelId": MODEL},
        )
        row = checks.image_model(ctx)
    assert row.status == "warning"
    assert "not yet the account is entitled, its agreement is accepted" in row.detail
    assert "Model access" in row.fix


def test_an_available_image_model_is_ok():
    ctx, clients = context()
    with Stubber(clients.client("bedrock")) as stub:
        stub.add_response(
            "get_foundation_model_availability",
            {
                "modelId": MODEL,
                "agreementAvailability": {"status": "AVAILABLE"},
                "authorizationStatus": "AUTHORIZED",
                "entitlementAvailability": "AVAILABLE",
                "regionAvailability": "AVAILABLE",
            },
            {"modelId": MODEL},
        )
        assert checks.image_model(ctx).status == "ok"


def test_no_account_role_and_a_stack_that_sets_none_is_blocking():
    ctx, clients = context()
    with Stubber(clients.client("apigateway")) as stub:
        stub.add_response("get_account", {})
        row = checks.api_gateway_account(ctx)
    assert row.status == "blocking"
    assert f"{PROJECT}:apiGatewayAccountRole true" in row.fix
    ctx, clients = context(ACCOUNT_SETTING)
    with Stubber(clients.client("apigateway")) as stub:
        stub.add_response("get_account", {})
        assert checks.api_gateway_account(ctx).status == "ok"


def test_the_owner_tags_preflight_reads_are_the_ones_the_program_sets():
    from components.providers import application_tags

    assert tuple(application_tags(PROJECT, "dev", "alice-lab")) == checks.OWNER_TAGS
