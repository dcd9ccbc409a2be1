"""Drift from the declared state along the whole request path (issue 21 §5, §6 "Declared state under mocks").

The declared state is the dev stack's, computed from the program under mocks (once per test session: the
drill's cache, in the session's own cache folder). It is compared with a hand-built live state, the API
answers AWS gives for a stack deployed as declared, with one field changed at a time, for every compared
field. Then against moto: an existing kind wins where it covers the property, and a difference alone is
drift, never blamed. CloudTrail (which moto lacks) is served through Stubber from the real model.
"""

from __future__ import annotations

import copy
import json
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from conftest import moto_clients, new_session
from drill_fixtures import ACCOUNT, REGION, build_stack, inject_fault_like_the_fault_function, remove_api_permission
from drill_fixtures import throttle_api as throttle_api_fixture

from drill.aws import Clients
from drill.fault_policy import fault_statements
from drill.investigator import investigate, resolve_target
from drill.investigator.collectors import COLLECTORS, drift, drift_trail, role
from drill.investigator.collectors._base import Scope
from drill.investigator.collectors.drift_path import Difference
from drill.investigator.declared import Declared
from drill.investigator.model import Target, Window
from drill.investigator.ranking import conclude

pytestmark = pytest.mark.e2e  # investigations of the program's whole stack in moto: the `.ci/run` e2e step

FUNCTION = "aiops-demo-dev-image-api"
API = "a1b2c3d4e5"
BUCKET = "images-images-0a1b2c3"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/images-image-api-role-4d5e6f7"
NOW = datetime.now(UTC).replace(microsecond=0)
TARGET = Target(
    region=REGION,
    account=ACCOUNT,
    prefix="aiops-demo-dev",
    bucket=BUCKET,
    function_name=FUNCTION,
    parameter_name="/aiops-demo-dev/bucket-name",
    role_arn=ROLE,
    role_id="AROAEXAMPLEROLEID",
    api_name="aiops-demo-dev-api",
    rest_api_id=API,
    declared_role_arn=ROLE,
)
IN_MOTO = [(name, collect) for name, collect in COLLECTORS if name not in ("cloudtrail", "alarm_history", "tags")]


@pytest.fixture(scope="module")
def declared() -> Declared:
    """The dev stack's declared state from the program under mocks (cached for the session)."""
    from drill.declared.program import from_program
    from drill.rehearsal.command import ROOT

    found = from_program(ROOT, "dev", FUNCTION, account=ACCOUNT)
    assert found.function is not None and found.parameter is not None and "prod" in found.stages
    return found


# ------------------------------------------------------------------------------------------ a hand-built live state
def live_as_declared(declared: Declared) -> dict[str, Any]:
    """What AWS answers for the request path deployed exactly as `declared`, in TARGET's names."""
    function, stage = declared.function, declared.stages["prod"]
    assert function is not None and declared.bucket_policy is not None
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    tls = [
        {**s, "Resource": [bucket_arn, f"{bucket_arn}/*"]} if s.get("Sid") == "DenyInsecureTransport" else s
        for s in declared.bucket_policy
    ]
    assert len(tls) == 1, "the stack declares one bucket-policy statement: the TLS-only Deny"
    access = dict(stage.settings["accessLogSettings"])
    return {
        "config": {
            "FunctionName": FUNCTION,
            "Timeout": function.timeout,
            "MemorySize": function.memory_size,
            "Handler": function.handler,
            "Runtime": function.runtime,
            "Layers": [{"Arn": arn} for arn in function.layers],
            "Environment": {"Variables": dict(function.environment)},
            "Role": ROLE,
        },
        "stage": {
            "stageName": "prod",
            "tracingEnabled": bool(stage.settings.get("xrayTracingEnabled")),
            "accessLogSettings": {"format": access["format"], "destinationArn": "arn:aws:logs:::log-group:access"},
            "methodSettings": {path: dict(settings) for path, settings in stage.method_settings.items()},
        },
        "permission": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "images-api-invoke-9a8b7c6",
                    "Effect": "Allow",
                    "Principal": {"Service": "apigateway.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": TARGET.function_arn,
                    "Condition": {
                        "ArnLike": {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/GET/random"}
                    },
                }
            ],
        },
        "parameter": {"Name": TARGET.parameter_name, "Type": "String", "Value": BUCKET},
        "bucket_policy": {"Version": "2012-10-17", "Statement": tls},
        "trust": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
    }


def compare(declared: Declared, live: dict[str, Any]) -> tuple[list[Difference], list[str]]:
    scope = Scope(clients=Clients(new_session()), target=TARGET, window=Window.last(30, NOW), declared=declared)
    unknown: list[str] = []
    parts = {k: v for k, v in live.items() if k != "config"}
    return drift.differences(scope, live["config"], parts, unknown), unknown


def other_variable(declared: Declared) -> str:
    assert declared.function is not None
    (name, *_) = sorted(v for v in declared.function.environment if v != "BUCKET_NAME_PARAMETER")
    return name


Change = Callable[[dict[str, Any], Declared], None]
# One field changed at a time: (the change, [(area, property, covered_by, breaks)] it must produce).
FUNCTION_CHANGES: dict[str, tuple[Change, list[tuple[str, str, str | None, bool]]]] = {
    "timeout": (lambda live, d: live["config"].update(Timeout=1), [("function", "timeout", None, True)]),
    "memory": (lambda live, d: live["config"].update(MemorySize=512), [("function", "memory_size", None, True)]),
    "handler": (lambda live, d: live["config"].update(Handler="app.main"), [("function", "handler", None, True)]),
    "runtime": (lambda live, d: live["config"].update(Runtime="python3.9"), [("function", "runtime", None, True)]),
    "layers": (
        lambda live, d: live["config"].update(Layers=[{"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:x:1"}]),
        [("function", "layers", None, True)],
    ),
    "environment": (
        lambda live, d: live["config"]["Environment"]["Variables"].update({other_variable(d): "changed"}),
        [("function", "environment {variable}", None, False)],
    ),
    "role": (
        lambda live, d: live["config"].update(Role=f"arn:aws:iam::{ACCOUNT}:role/other"),
        [("function", "role", "function_role_changed", False)],
    ),
}


def method(key: str, value: Any) -> Change:
    return lambda live, d: live["stage"]["methodSettings"]["*/*"].update({key: value})


STAGE_CHANGES = {
    "xrayTracingEnabled": (
        lambda live, d: live["stage"].update(tracingEnabled=False),
        [("stage", "xrayTracingEnabled", None, False)],
    ),
    "accessLogSettings": (
        lambda live, d: live["stage"]["accessLogSettings"].update(format='{"status":"$context.status"}'),
        [("stage", "accessLogSettings.format", None, False)],
    ),
    "metricsEnabled": (method("metricsEnabled", False), [("stage", "method */* metricsEnabled", None, False)]),
    "loggingLevel": (method("loggingLevel", "OFF"), [("stage", "method */* loggingLevel", None, False)]),
    "dataTraceEnabled": (method("dataTraceEnabled", True), [("stage", "method */* dataTraceEnabled", None, False)]),
    "throttlingRateLimit": (
        method("throttlingRateLimit", 1.0),
        [("stage", "method */* throttlingRateLimit", "api_throttled", False)],
    ),
    "throttlingBurstLimit": (
        method("throttlingBurstLimit", 1),
        [("stage", "method */* throttlingBurstLimit", "api_throttled", False)],
    ),
    "route override": (
        lambda live, d: live["stage"]["methodSettings"].update({"~1random/GET": {"throttlingRateLimit": 0.0}}),
        [("stage", "method ~1random/GET", "api_throttled", False)],
    ),
}


def statement(live: dict[str, Any], part: str) -> dict[str, Any]:
    return live[part]["Statement"][0]


PATH_CHANGES = {
    "permission removed": (
        lambda live, d: live["permission"]["Statement"].clear(),
        [("permission", "resource policy", "api_permission_missing", False)],
    ),
    "permission for another route": (
        lambda live, d: statement(live, "permission")["Condition"]["ArnLike"].update(
            {"AWS:SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/POST/random"}
        ),
        [
            ("permission", "resource policy", "api_permission_missing", False),
            ("permission", "resource policy statement images-api-invoke-9a8b7c6", "api_permission_missing", False),
        ],
    ),
    "permission for another account": (
        lambda live, d: live["permission"]["Statement"].append(
            {"Sid": "x", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "*"}
        ),
        [("permission", "resource policy statement x", None, False)],
    ),
    "parameter value": (
        lambda live, d: live["parameter"].update(Value=BUCKET.upper()),
        [("parameter", "value", "parameter_wrong_bucket", False)],
    ),
    "parameter type": (
        lambda live, d: live["parameter"].update(Type="StringList"),
        [("parameter", "type", "parameter_wrong_bucket", False)],
    ),
    "tls-only statement removed": (
        lambda live, d: live["bucket_policy"]["Statement"].clear(),
        [("bucket_policy", "bucket policy statement DenyInsecureTransport", None, False)],
    ),
    "the fault injector's denies": (
        lambda live, d: live["bucket_policy"]["Statement"].extend(fault_statements(BUCKET, ROLE)),
        [
            ("bucket_policy", f"bucket policy statement {s['Sid']} (the fault injector's)", "bucket_policy_deny", False)
            for s in fault_statements(BUCKET, ROLE)
        ],
    ),
    "an extra allow": (
        lambda live, d: live["bucket_policy"]["Statement"].append(
            {"Sid": "Readers", "Effect": "Allow", "Principal": {"AWS": ROLE}, "Action": "s3:GetObject", "Resource": "*"}
        ),
        [("bucket_policy", "bucket policy statement Readers", None, False)],
    ),
    "trust policy": (
        lambda live, d: statement(live, "trust")["Principal"].update(Service="edgelambda.amazonaws.com"),
        [("trust", "trust policy", "role_trust_broken", False)],
    ),
}
CHANGES = {**FUNCTION_CHANGES, **STAGE_CHANGES, **PATH_CHANGES}


def test_the_request_path_deployed_as_declared_has_no_difference(declared):
    found, unknown = compare(declared, live_as_declared(declared))
    assert found == []
    # Under mocks the access log's group ARN is a placeholder the stack's outputs do not resolve: said, not guessed.
    assert unknown == ["stage prod accessLogSettings.destinationArn"]


@pytest.mark.parametrize("case", list(CHANGES))
def test_each_compared_field_changed_alone_is_the_one_difference(declared, case):
    change, expected = CHANGES[case]
    live = copy.deepcopy(live_as_declared(declared))
    change(live, declared)
    found, _ = compare(declared, live)
    variable = other_variable(declared)
    want = [(area, prop.format(variable=variable), by, breaks) for area, prop, by, breaks in expected]
    assert [(d.area, d.property, d.covered_by, d.breaks) for d in found] == want
    for d in found:
        assert d.declared != d.live


def test_every_declared_setting_of_the_stage_has_its_case(declared):
    """A setting the program declares later (caching, say) must get a case above, or this fails."""
    stage = declared.stages["prod"]
    assert set(stage.settings) <= set(STAGE_CHANGES)
    assert {k for settings in stage.method_settings.values() for k in settings} <= set(STAGE_CHANGES)


def test_references_resolve_to_the_stacks_outputs_not_to_mock_names(declared):
    """The declared values that name other resources are the live stack's after resolution: the parameter's
    bucket, the permission's SourceArn and the bucket policy's ARNs, from TARGET (the stack's outputs)."""
    from drill.investigator.collectors.drift_path import Resolver

    resolve = Resolver(declared, TARGET)
    assert declared.parameter is not None and resolve(declared.parameter.value) == BUCKET
    (permission,) = declared.permissions
    assert resolve(permission.source_arn) == f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{API}/*/GET/random"
    assert declared.bucket_policy is not None
    assert resolve(declared.bucket_policy[0]["Resource"]) == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    assert declared.function is not None and resolve(declared.function.role) == ROLE


# ------------------------------------------------------------------------------------------ who changed it (CloudTrail)
def trail_event(name: str, actor: str, moment: datetime, request: dict[str, Any]) -> dict[str, Any]:
    record = {"eventName": name, "userIdentity": {"arn": actor}, "requestParameters": request}
    return {"EventName": name, "EventTime": moment, "CloudTrailEvent": json.dumps(record), "Resources": []}


def stubbed_cloudtrail() -> tuple[Any, Stubber]:
    client = boto3.client("cloudtrail", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    return client, Stubber(client)


def by_name(name: str) -> dict[str, Any]:
    return {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}], "MaxResults": 50}


def test_each_difference_names_who_made_it_and_when_from_cloudtrail():
    alice, bob = f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/bob"
    t1, t2, t3 = (NOW - timedelta(days=d) for d in (9, 3, 1))
    client, stubber = stubbed_cloudtrail()
    config = "UpdateFunctionConfiguration20150331v2"
    stubber.add_response(
        "lookup_events",
        {
            "Events": [  # newest first, as LookupEvents answers
                trail_event(config, bob, t3, {"functionName": FUNCTION, "memorySize": 512}),  # not the timeout
                trail_event(config, bob, t2, {"functionName": "someone-elses", "timeout": 1}),
                trail_event(config, alice, t1, {"functionName": FUNCTION, "timeout": 1}),
            ]
        },
        by_name(config),
    )
    stubber.add_response(
        "lookup_events",
        {"Events": [trail_event("PutParameter", bob, t2, {"name": TARGET.parameter_name, "overwrite": True})]},
        by_name("PutParameter"),
    )
    stubber.add_response("lookup_events", {"Events": []}, by_name("UpdateStage"))
    clients = Clients(new_session())
    clients.use("cloudtrail", client)
    scope = Scope(clients=clients, target=TARGET, window=Window.last(30, NOW))
    differences = [
        Difference("function", FUNCTION, "timeout", 30, 1, breaks=True, field="timeout"),
        Difference("parameter", TARGET.parameter_name, "value", BUCKET, "x", covered_by="parameter_wrong_bucket"),
        Difference("stage", f"{API}/prod", "method */* loggingLevel", "INFO", "OFF"),
    ]
    with stubber:
        changes, caveat = drift_trail.attribute(scope, differences)
    stubber.assert_no_pending_responses()
    assert caveat is None
    assert {i: (c["actor"], c["changed_at"]) for i, c in changes.items()} == {
        0: (alice, t1.strftime("%Y-%m-%dT%H:%M:%SZ")),  # the call that changed the timeout, not the newest one
        1: (bob, t2.strftime("%Y-%m-%dT%H:%M:%SZ")),
    }  # the stage: CloudTrail shows nothing, so nobody is named


def test_without_cloudtrail_the_differences_stay_and_the_caveat_says_who_is_unknown():
    client, stubber = stubbed_cloudtrail()
    stubber.add_client_error("lookup_events", service_error_code="AccessDeniedException", http_status_code=400)
    clients = Clients(new_session())
    clients.use("cloudtrail", client)
    scope = Scope(clients=clients, target=TARGET, window=Window.last(30, NOW))
    with stubber:
        changes, caveat = drift_trail.attribute(scope, [Difference("trust", "r", "trust policy", "a", "b")])
    assert changes == {} and caveat is not None and "AccessDeniedException" in caveat and "unknown" in caveat


# ------------------------------------------------------------------------------------------ against moto
@pytest.fixture
def moto() -> Iterator[Clients]:
    with moto_clients() as clients:
        yield clients


def api_5xx(stack, count: float = 10) -> None:
    dims = [{"Name": "ApiName", "Value": f"{stack.prefix}-api"}, {"Name": "Stage", "Value": "prod"}]
    stack.client("cloudwatch").put_metric_data(
        Namespace="AWS/ApiGateway",
        MetricData=[
            {
                "MetricName": n,
                "Dimensions": dims,
                "Timestamp": NOW - timedelta(minutes=2),
                "Value": count,
                "Unit": "Count",
            }
            for n in ("Count", "5XXError")
        ],
    )


def drift_items(report) -> list:
    return [e for e in report.evidence if e.source == "drift" and "property" in e.facts]


@pytest.mark.parametrize(
    ("case", "fault", "kind", "prop"),
    [
        ("permission", remove_api_permission, "api_permission_missing", "resource policy"),
        ("throttling", throttle_api_fixture, "api_throttled", "method */* throttling"),
        ("deny", inject_fault_like_the_fault_function, "bucket_policy_deny", "bucket policy statement"),
    ],
)
def test_where_an_existing_kind_covers_the_property_it_wins_and_the_difference_is_listed(
    moto, declared, case, fault, kind, prop
):
    stack = build_stack(None, "aiops-demo-dev", images=2, fault_chain=True, tls_only_policy=False)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    before = {
        e.facts["property"]
        for e in drift_items(investigate(moto, target, now=NOW, collectors=IN_MOTO, declared=declared))
    }
    fault(stack)
    api_5xx(stack)
    report = investigate(moto, target, now=NOW, collectors=IN_MOTO, declared=declared)
    assert report.root_cause.kind == kind, report.root_cause
    new = [e for e in drift_items(report) if e.facts["property"] not in before]
    assert new and all(e.facts["property"].startswith(prop) for e in new), [e.detail for e in new]
    assert {e.facts["covered_by"] for e in new} == {kind}
    assert any(n.startswith("Drift from the declared state:") and prop in n for n in report.notes)


def test_a_difference_that_explains_nothing_is_listed_not_blamed(moto, declared):
    stack = build_stack(None, "aiops-demo-dev", images=2, fault_chain=False, tls_only_policy=False)
    stack.client("ssm").put_parameter(Name=stack.parameter, Value=stack.bucket, Type="StringList", Overwrite=True)
    stack.client("apigateway").update_stage(
        restApiId=stack.outputs["RestApiId"],
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/*/*/logging/loglevel", "value": "ERROR"}],
    )
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    report = investigate(moto, target, now=NOW, collectors=IN_MOTO, declared=declared)
    assert report.status == "healthy" and report.hypotheses == ()
    found = {e.facts["property"]: e.facts for e in drift_items(report)}
    assert found["type"]["declared"] == "String" and found["type"]["live"] == "StringList"
    assert found["method */* loggingLevel"]["live"] == "ERROR"
    assert not any(f["breaks"] for f in found.values())


def test_an_investigation_with_the_declared_state_takes_under_five_seconds_against_moto(moto, declared):
    stack = build_stack(None, "aiops-demo-dev", images=4, fault_chain=False)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    seconds = []
    for _ in range(10):
        start = time.perf_counter()
        report = investigate(moto, target, declared=declared)
        seconds.append(time.perf_counter() - start)
    assert [s.name for s in report.sources] == [*(name for name, _ in COLLECTORS), "drift"]
    print(f"investigation with the declared state against moto: median {statistics.median(seconds):.2f} s")
    assert statistics.median(seconds) < 5


# ------------------------------------------------------------------------------------------ the role, on every key
def deny_keys(stack, *keys: str) -> None:
    stack.client("iam").put_role_policy(
        RoleName=stack.role_name,
        PolicyName="no-some-images",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Deny",
                        "Action": "s3:GetObject",
                        "Resource": [f"arn:aws:s3:::{stack.bucket}/{k}" for k in keys],
                    }
                ],
            }
        ),
    )


def test_a_role_deny_on_some_image_keys_is_role_permission_missing_with_the_share_it_blocks(moto):
    stack = build_stack(None, "aiops-demo-dev", images=4, fault_chain=False, tls_only_policy=False)
    deny_keys(stack, "image-1.png")
    api_5xx(stack, 4)
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    report = investigate(moto, target, now=NOW, collectors=IN_MOTO)
    assert report.root_cause.kind == "role_permission_missing"
    assert "25% of them (of 4 listed images)" in report.root_cause.summary
    (verdict,) = [e for e in report.evidence if e.source == "role_policy" and e.facts["action"] == "s3:GetObject"]
    assert (verdict.facts["keys_blocked"], verdict.facts["keys_listed"], verdict.facts["share"]) == (1, 4, 0.25)
    assert verdict.facts["resource"] == f"arn:aws:s3:::{stack.bucket}/image-1.png"


def test_a_role_deny_on_keys_that_hold_no_image_is_no_cause(moto):
    stack = build_stack(None, "aiops-demo-dev", images=2, fault_chain=False, tls_only_policy=False)
    deny_keys(stack, "README.txt")
    target = resolve_target(stack.outputs, moto, account=ACCOUNT, region=REGION)
    report = investigate(moto, target, now=NOW, collectors=IN_MOTO)
    assert report.status == "healthy"
    (verdict,) = [e for e in report.evidence if e.source == "role_policy" and e.facts["action"] == "s3:GetObject"]
    assert verdict.facts["decision"] == "allowed" and "all 2 listed images" in verdict.detail


def test_the_simulator_is_read_per_key_from_its_resource_specific_results():
    iam = boto3.client("iam", region_name=REGION, config=Config(retries={"total_max_attempts": 1}))
    stubber = Stubber(iam)
    keys = ["a.png", "b.png", "c.png"]
    objects = [f"arn:aws:s3:::{BUCKET}/{k}" for k in keys]

    def answer(action: str, decision: str, per_key: list[str] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = {"EvalActionName": action, "EvalDecision": decision}
        if per_key:
            result["ResourceSpecificResults"] = [
                {"EvalResourceName": arn, "EvalResourceDecision": d} for arn, d in zip(objects, per_key, strict=True)
            ]
        return {"EvaluationResults": [result]}

    for action, resources, response in (
        ("ssm:GetParameter", [TARGET.parameter_arn], answer("ssm:GetParameter", "allowed")),
        ("s3:ListBucket", [TARGET.bucket_arn], answer("s3:ListBucket", "allowed")),
        ("s3:GetObject", objects, answer("s3:GetObject", "explicitDeny", ["allowed", "explicitDeny", "allowed"])),
    ):
        stubber.add_response(
            "simulate_principal_policy",
            response,
            {"PolicySourceArn": ROLE, "ActionNames": [action], "ResourceArns": resources},
        )
    clients = Clients(new_session())
    clients.use("iam", iam)
    scope = Scope(clients=clients, target=TARGET, window=Window.last(30, NOW))
    scope._cache["keys"] = keys
    with stubber:
        items = role.collect(scope)
    assert [(e.facts["action"], e.facts["decision"]) for e in items] == [
        ("ssm:GetParameter", "allowed"),
        ("s3:ListBucket", "allowed"),
        ("s3:GetObject", "explicitDeny"),
    ]
    assert items[2].facts["resource"] == objects[1] and items[2].facts["share"] == 0.333
    root, _ = conclude(items)
    assert root.kind == "role_permission_missing" and "33% of them (of 3 listed images)" in root.summary


# ------------------------------------------------------------------------------------------ the root cause's actor
def test_the_kind_that_wins_cites_its_drift_and_names_who_cloudtrail_says_made_it():
    """The window's CloudTrail events name no one (the change is older than the window): the drift item the
    kind decides, attributed through LookupEvents by event name, names the actor and the time."""
    from test_drill_collectors import item

    who, when = f"arn:aws:iam::{ACCOUNT}:user/alice", "2026-11-20T08:00:00Z"
    refused = item("function_policy", 1, allows_api=False, function=FUNCTION, api=API, source_arn="s", others=[])
    failing = item("metrics", 1, metric="api_5xx", sum=10)
    covered = item(
        "drift", 1, property="resource policy", covered_by="api_permission_missing", actor=who, changed_at=when
    )
    other = item("drift", 2, property="type", covered_by="parameter_wrong_bucket", actor="someone", changed_at=when)
    root, _ = conclude([refused, failing, covered, other])
    assert root.kind == "api_permission_missing"
    assert (root.actor, root.changed_at) == (who, when)
    assert covered.id in root.evidence and other.id not in root.evidence


def test_a_setting_pulumi_records_as_empty_is_the_stage_leaving_it_out(declared):
    """Pulumi's state records unset stage settings as "" or {} (cacheClusterSize, variables); GetStage omits them."""
    import dataclasses

    stage = declared.stages["prod"]
    recorded = dataclasses.replace(stage, settings={**stage.settings, "cacheClusterSize": "", "variables": {}})
    exported = dataclasses.replace(declared, stages={"prod": recorded})
    assert compare(exported, live_as_declared(declared))[0] == []
    live = live_as_declared(declared)
    live["stage"]["variables"] = {"backend": "v2"}
    (found,) = compare(exported, live)[0]
    assert (found.property, found.declared, found.live) == ("variables", {}, {"backend": "v2"})
