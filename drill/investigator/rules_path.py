"""Ranking rules for the causes a request meets before the function's code runs: API Gateway's stage
throttling, the function's resource policy, and the function's configuration (environment, role)."""

from __future__ import annotations

from drill.investigator.evidences import S3_DENIED, SSM_DENIED, Evidences, hypothesis
from drill.investigator.model import Hypothesis

CONFIGURATION = {"UpdateFunctionConfiguration"}


def limit(value: float | None) -> str:
    return "unset" if value is None else f"{value:g}"


def api_throttled(ev: Evidences) -> Hypothesis | None:
    low = [e for e in ev.of("api") if e.facts.get("throttled")]
    if not low:
        return None
    facts = low[0].facts
    zero = bool(facts.get("zero"))
    rejected = ev.metric("api_4xx")  # 429 is a 4XX: the 5XX alarm never sees it
    count = next((e.facts["sum"] for e in ev.metric("api_count")), None)
    share = f" ({rejected[0].facts['sum']:g} 4XX of {count:g} requests)" if rejected and count else ""
    summary = (
        f"Stage {facts['stage']} of API {facts['api']} throttles GET /random at rate {limit(facts['rate'])}/s, "
        f"burst {limit(facts['burst'])} ({facts['rate_from']}), so "
        + ("every request gets" if zero else "requests beyond a handful get")
        + f" 429 Too Many Requests{share}; a 4XX, which the 5XX alarm does not count."
    )
    return hypothesis(
        "api_throttled",
        facts["api"],
        0.7 if zero else 0.35,
        low,
        summary,
        ev,
        logs=rejected,
        extra=ev.metric("api_count"),
        changes=ev.changes({"UpdateStage", "CreateDeployment"}, facts["api"]),
    )


def api_permission_missing(ev: Evidences) -> Hypothesis | None:
    refused = [e for e in ev.of("function_policy") if e.facts.get("allows_api") in (False, None)]
    if not refused:
        return None
    facts = refused[0].facts
    certain = facts.get("allows_api") is False
    # API Gateway answers 500 without invoking: 5XX datapoints while the function sees no invocations.
    invoked = ev.metric("fn_invocations")
    unreached = [] if invoked else ev.metric("api_5xx")
    others = f" (other API Gateway statements: {'; '.join(facts['others'])})" if facts.get("others") else ""
    summary = (
        f"The resource policy of function {facts['function']} does not let API {facts['api']} invoke it for "
        f"GET /random (no statement allows apigateway.amazonaws.com with SourceArn {facts['source_arn']})"
        f"{others}, so API Gateway answers 500 without invoking the function."
    )
    return hypothesis(
        "api_permission_missing",
        facts["function"],
        0.7 if certain else 0.3,
        refused,
        summary,
        ev,
        logs=unreached,
        changes=ev.changes({"AddPermission", "RemovePermission"}, facts["function"]),
    )


def function_environment_changed(ev: Evidences) -> Hypothesis | None:
    changed = [e for e in ev.of("function") if e.facts.get("env_matches") is False]
    if not changed:
        return None
    facts = changed[0].facts
    value = facts.get("value")
    if value is None:
        effect = "the function answers 500 'function is not configured' without calling AWS"
        logs = []
    else:
        effect = f"the function reads parameter {value!r} instead"
        logs = ev.logs({"ParameterNotFound", *SSM_DENIED}, {"GetParameter"}, parameter=value)
    state = "is not set" if value is None else f"is {value!r}"
    summary = (
        f"The image function {facts['function']}'s {facts['variable']} {state}, not the stack's parameter "
        f"{facts['expected']!r}, so {effect} and the API answers 5XX."
    )
    return hypothesis(
        "function_environment_changed",
        facts["function"],
        0.7,
        changed,
        summary,
        ev,
        logs=logs,
        changes=ev.changes(CONFIGURATION, facts["function"], field="environment"),
    )


def function_role_changed(ev: Evidences) -> Hypothesis | None:
    swapped = [e for e in ev.of("function") if e.facts.get("role_matches") is False]
    if not swapped:
        return None
    facts = swapped[0].facts
    summary = (
        f"The image function {facts['function']} runs as {facts['role']}, not as the role the stack gave it "
        f"({facts['expected']}); the swap is the cause, whatever the other role may or may not do."
    )
    return hypothesis(
        "function_role_changed",
        facts["function"],
        0.7,
        swapped,
        summary,
        ev,
        logs=ev.logs(S3_DENIED | SSM_DENIED),
        changes=ev.changes(CONFIGURATION, facts["function"], field="role"),
    )


TRUST_CHANGES = {"UpdateAssumeRolePolicy"}


def role_trust_broken(ev: Evidences) -> Hypothesis | None:
    broken = [e for e in ev.of("role_trust") if e.facts.get("trusted") is False]
    if not broken:
        return None
    facts = broken[0].facts
    role = str(facts["role"])
    summary = (
        f"The trust policy of the image function's role {role.rsplit('/', 1)[-1]} "
        f"{'denies' if facts['verdict'] == 'denied' else 'does not allow'} lambda.amazonaws.com sts:AssumeRole, so "
        "Lambda cannot run the function: every invocation fails before the handler runs (no function logs) and "
        "the API answers 5XX."
    )
    # The function never runs: its Errors metric and the API's 5XX corroborate, not its (absent) log lines.
    return hypothesis(
        "role_trust_broken",
        role,
        0.7 if facts.get("certain") else 0.3,
        broken,
        summary,
        ev,
        logs=ev.metric("api_5xx") or ev.metric("fn_errors"),
        changes=ev.changes(TRUST_CHANGES, role.rsplit("/", 1)[-1]),
    )


def function_configuration_changed(ev: Evidences) -> Hypothesis | None:
    """A difference from the declared handler, runtime, layers, timeout or memory is a cause only when it
    can explain the symptoms: the function fails (Errors, 5XX or an errors alarm). Otherwise it is drift,
    listed in the evidence and the notes, never blamed."""
    changed = [e for e in ev.of("drift") if e.facts.get("breaks")]
    failing = ev.metric("fn_errors") + ev.metric("api_5xx")
    if not changed or not (failing or ev.symptoms(lines=False)):
        return None
    function = str(changed[0].facts["resource"])
    what = "; ".join(f"{e.facts['property']} {e.facts['live']!r} (declared {e.facts['declared']!r})" for e in changed)
    summary = (
        f"The image function {function}'s configuration differs from the stack's: {what}, so its invocations "
        "fail (a wrong handler, runtime or layer fails before the code runs; a lower timeout or memory cuts it "
        "short) and the API answers 5XX."
    )
    return hypothesis(
        "function_configuration_changed",
        function,
        0.6,
        changed,
        summary,
        ev,
        logs=failing,
        changes=ev.changes(CONFIGURATION, function),
    )
