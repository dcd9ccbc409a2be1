"""Which cause is the root when two hold at once: the first a request meets on its path.

The expected root of every pair is written out below, row by row, not derived from the investigator's
REQUEST_PATH_ORDER: reordering that tuple (or the Literal of kinds) must fail a row here, and a new kind
fails `test_every_pair_of_kinds_has_a_stated_root` until its rows are written.
"""

from __future__ import annotations

from itertools import combinations
from typing import get_args

import pytest
from test_drill_collectors import BUCKET, ROLE_ARN, TARGET, item

from drill.investigator.model import REQUEST_PATH_ORDER, RootCauseKind
from drill.investigator.ranking import conclude

FUNCTION = TARGET.function_name


def fis_experiment(kind: str, action_id: str, **facts) -> dict:
    """An active FIS experiment whose action of `kind` names the image function (collectors/experiments.py)."""
    return {
        "experiment": f"EXP{kind[4:7]}",
        "template": "EXT1",
        "status": "running",
        "action": "inject",
        "action_id": action_id,
        "kind": kind,
        "percentage": 20.0,
        "active": True,
        "just_ended": False,
        "targets_function": True,
        "resource": FUNCTION,
        "started": "2026-11-25T10:20:00Z",
        "ended": None,
        **facts,
    }


# The state evidence that makes each cause hold on its own (each is >= 0.5 without corroboration).
STATE = {
    "api_throttled": item(
        "api", 1, throttled=True, zero=True, api="a1b2c3", stage="prod", rate=0.0, burst=0, rate_from="*/*"
    ),
    "api_permission_missing": item(
        "function_policy", 1, allows_api=False, function=FUNCTION, api="a1b2c3", source_arn="arn", others=[]
    ),
    "function_throttled": item("concurrency", 1, reserved=0, function=FUNCTION),
    "function_configuration_changed": item(
        "drift", 1, resource=FUNCTION, property="handler", declared="handler.handler", live="x.y", breaks=True
    ),
    "function_environment_changed": item(
        "function", 1, env_matches=False, function=FUNCTION, variable="BUCKET_NAME_PARAMETER", value="/x", expected="/p"
    ),
    "function_role_changed": item("function", 2, role_matches=False, function=FUNCTION, role="r2", expected="r1"),
    "role_trust_broken": item("role_trust", 1, role=ROLE_ARN, trusted=False, verdict="not allowed", certain=True),
    "role_permission_missing": item(
        "role_policy", 1, decision="explicitDeny", certain=True, action="s3:GetObject", role=ROLE_ARN, statements=[]
    ),
    "parameter_missing": item("parameter", 1, exists=False, name="/p"),
    "parameter_wrong_bucket": item(
        "parameter", 2, exists=True, matches=False, bucket_exists=False, name="/p", value="gone", expected=BUCKET
    ),
    "bucket_policy_deny": item(
        "bucket_policy", 1, deny=True, certain=True, sid="X", index=0, actions=["s3:GetObject"], bucket=BUCKET
    ),
    "no_images": item("images", 1, count=0, bucket=BUCKET, bucket_exists=True),
    "fis_errors_injected": item(
        "experiments", 1, **fis_experiment("fis_errors_injected", "aws:lambda:invocation-error")
    ),
    "fis_latency_injected": item(
        "experiments", 2, **fis_experiment("fis_latency_injected", "aws:lambda:invocation-add-delay", delay_ms=3000.0)
    ),
}
SYMPTOM = item("alarms", 1, alarm="a", purpose="api_5xx", state="ALARM", resource="api/prod")

# (one cause, another cause, the root cause when both hold). Read as: a request reaches the stage's
# throttling, then API Gateway's permission to invoke, then Lambda's concurrency, then the function's
# configuration (handler, runtime, layers, timeout, memory; then environment, role), then Lambda
# assuming that role (its trust policy), then the FIS extension's injected errors, then the role's
# permissions, the parameter, the bucket's policy and the images in it; last a FIS delay, which fails nothing.
EXPECTED_ROOT = [
    ("api_throttled", "api_permission_missing", "api_throttled"),
    ("api_throttled", "function_throttled", "api_throttled"),
    ("api_throttled", "function_environment_changed", "api_throttled"),
    ("api_throttled", "function_role_changed", "api_throttled"),
    ("api_throttled", "role_permission_missing", "api_throttled"),
    ("api_throttled", "parameter_missing", "api_throttled"),
    ("api_throttled", "parameter_wrong_bucket", "api_throttled"),
    ("api_throttled", "bucket_policy_deny", "api_throttled"),
    ("api_throttled", "no_images", "api_throttled"),
    ("api_permission_missing", "function_throttled", "api_permission_missing"),
    ("api_permission_missing", "function_environment_changed", "api_permission_missing"),
    ("api_permission_missing", "function_role_changed", "api_permission_missing"),
    ("api_permission_missing", "role_permission_missing", "api_permission_missing"),
    ("api_permission_missing", "parameter_missing", "api_permission_missing"),
    ("api_permission_missing", "parameter_wrong_bucket", "api_permission_missing"),
    ("api_permission_missing", "bucket_policy_deny", "api_permission_missing"),
    ("api_permission_missing", "no_images", "api_permission_missing"),
    ("function_throttled", "function_environment_changed", "function_throttled"),
    ("function_throttled", "function_role_changed", "function_throttled"),
    ("function_throttled", "role_permission_missing", "function_throttled"),
    ("function_throttled", "parameter_missing", "function_throttled"),
    ("function_throttled", "parameter_wrong_bucket", "function_throttled"),
    ("function_throttled", "bucket_policy_deny", "function_throttled"),
    ("function_throttled", "no_images", "function_throttled"),
    ("api_throttled", "function_configuration_changed", "api_throttled"),
    ("api_permission_missing", "function_configuration_changed", "api_permission_missing"),
    ("function_throttled", "function_configuration_changed", "function_throttled"),
    ("function_configuration_changed", "function_environment_changed", "function_configuration_changed"),
    ("function_configuration_changed", "function_role_changed", "function_configuration_changed"),
    ("function_configuration_changed", "role_trust_broken", "function_configuration_changed"),
    ("function_configuration_changed", "role_permission_missing", "function_configuration_changed"),
    ("function_configuration_changed", "parameter_missing", "function_configuration_changed"),
    ("function_configuration_changed", "parameter_wrong_bucket", "function_configuration_changed"),
    ("function_configuration_changed", "bucket_policy_deny", "function_configuration_changed"),
    ("function_configuration_changed", "no_images", "function_configuration_changed"),
    ("function_environment_changed", "function_role_changed", "function_environment_changed"),
    ("function_environment_changed", "role_permission_missing", "function_environment_changed"),
    ("function_environment_changed", "parameter_missing", "function_environment_changed"),
    ("function_environment_changed", "parameter_wrong_bucket", "function_environment_changed"),
    ("function_environment_changed", "bucket_policy_deny", "function_environment_changed"),
    ("function_environment_changed", "no_images", "function_environment_changed"),
    ("function_role_changed", "role_permission_missing", "function_role_changed"),
    ("function_role_changed", "parameter_missing", "function_role_changed"),
    ("function_role_changed", "parameter_wrong_bucket", "function_role_changed"),
    ("function_role_changed", "bucket_policy_deny", "function_role_changed"),
    ("function_role_changed", "no_images", "function_role_changed"),
    ("api_throttled", "role_trust_broken", "api_throttled"),
    ("api_permission_missing", "role_trust_broken", "api_permission_missing"),
    ("function_throttled", "role_trust_broken", "function_throttled"),
    ("function_environment_changed", "role_trust_broken", "function_environment_changed"),
    ("function_role_changed", "role_trust_broken", "function_role_changed"),
    ("role_trust_broken", "role_permission_missing", "role_trust_broken"),
    ("role_trust_broken", "parameter_missing", "role_trust_broken"),
    ("role_trust_broken", "parameter_wrong_bucket", "role_trust_broken"),
    ("role_trust_broken", "bucket_policy_deny", "role_trust_broken"),
    ("role_trust_broken", "no_images", "role_trust_broken"),
    ("role_permission_missing", "parameter_missing", "role_permission_missing"),
    ("role_permission_missing", "parameter_wrong_bucket", "role_permission_missing"),
    ("role_permission_missing", "bucket_policy_deny", "role_permission_missing"),
    ("role_permission_missing", "no_images", "role_permission_missing"),
    ("parameter_missing", "bucket_policy_deny", "parameter_missing"),
    ("parameter_missing", "no_images", "parameter_missing"),
    ("parameter_wrong_bucket", "bucket_policy_deny", "parameter_wrong_bucket"),
    ("parameter_wrong_bucket", "no_images", "parameter_wrong_bucket"),
    ("bucket_policy_deny", "no_images", "bucket_policy_deny"),
    # The FIS extension wraps the handler: an injected error ends the invocation after Lambda has assumed the role
    # and before the handler's calls; an injected delay stops no request, so every cause that fails requests wins.
    ("api_throttled", "fis_errors_injected", "api_throttled"),
    ("api_permission_missing", "fis_errors_injected", "api_permission_missing"),
    ("function_throttled", "fis_errors_injected", "function_throttled"),
    ("function_configuration_changed", "fis_errors_injected", "function_configuration_changed"),
    ("function_environment_changed", "fis_errors_injected", "function_environment_changed"),
    ("function_role_changed", "fis_errors_injected", "function_role_changed"),
    ("role_trust_broken", "fis_errors_injected", "role_trust_broken"),
    ("fis_errors_injected", "role_permission_missing", "fis_errors_injected"),
    ("fis_errors_injected", "parameter_missing", "fis_errors_injected"),
    ("fis_errors_injected", "parameter_wrong_bucket", "fis_errors_injected"),
    ("fis_errors_injected", "bucket_policy_deny", "fis_errors_injected"),
    ("fis_errors_injected", "no_images", "fis_errors_injected"),
    ("fis_errors_injected", "fis_latency_injected", "fis_errors_injected"),
    ("api_throttled", "fis_latency_injected", "api_throttled"),
    ("api_permission_missing", "fis_latency_injected", "api_permission_missing"),
    ("function_throttled", "fis_latency_injected", "function_throttled"),
    ("function_configuration_changed", "fis_latency_injected", "function_configuration_changed"),
    ("function_environment_changed", "fis_latency_injected", "function_environment_changed"),
    ("function_role_changed", "fis_latency_injected", "function_role_changed"),
    ("role_trust_broken", "fis_latency_injected", "role_trust_broken"),
    ("role_permission_missing", "fis_latency_injected", "role_permission_missing"),
    ("parameter_missing", "fis_latency_injected", "parameter_missing"),
    ("parameter_wrong_bucket", "fis_latency_injected", "parameter_wrong_bucket"),
    ("bucket_policy_deny", "fis_latency_injected", "bucket_policy_deny"),
    ("no_images", "fis_latency_injected", "no_images"),
]
# Pairs that cannot hold together: the parameter either exists or it does not.
CANNOT_CO_OCCUR = [{"parameter_missing", "parameter_wrong_bucket"}]


def test_every_pair_of_kinds_has_a_stated_root():
    kinds = [k for k in REQUEST_PATH_ORDER if k != "unknown"]
    stated = [{a, b} for a, b, _ in EXPECTED_ROOT]
    assert len(stated) == len({frozenset(s) for s in stated})  # no pair stated twice
    assert sorted(map(sorted, stated + CANNOT_CO_OCCUR)) == sorted(map(sorted, map(set, combinations(kinds, 2))))
    assert set(REQUEST_PATH_ORDER) == set(get_args(RootCauseKind))  # every kind has its place on the path
    assert REQUEST_PATH_ORDER[-1] == "unknown"


@pytest.mark.parametrize(("one", "other", "root"), EXPECTED_ROOT, ids=[f"{a}+{b}" for a, b, _ in EXPECTED_ROOT])
def test_of_two_causes_that_hold_the_first_on_the_request_path_is_the_root(one, other, root):
    for evidence in ([STATE[one], STATE[other], SYMPTOM], [STATE[other], STATE[one], SYMPTOM]):
        found, hypotheses = conclude(evidence)
        assert found.kind == root
        assert hypotheses[0] is found
        assert {h.kind for h in hypotheses} == {one, other}  # the other cause stays a hypothesis
