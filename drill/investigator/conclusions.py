"""What follows from the root cause: impact path, timeline and caveats (commands: `remediation`)."""

from __future__ import annotations

from collections.abc import Sequence

from drill.investigator.evidences import Evidences
from drill.investigator.model import Evidence, Hypothesis, ResourceTags, Share, Target, TimelineEntry, Window, iso

# What the image function does when each cause holds (used when no error line was read).
EXPECTED_FAILURE = {
    "bucket_policy_deny": "AccessDenied from ListObjectsV2/GetObject",
    "role_permission_missing": "AccessDenied on the calls its role may not make",
    "parameter_missing": "ParameterNotFound from GetParameter",
    "parameter_wrong_bucket": "NoSuchBucket (or AccessDenied) from ListObjectsV2 on the wrong bucket",
    "no_images": "nothing to return",
    "function_throttled": "never runs: Lambda throttles every invocation",
    "api_throttled": "never invoked: API Gateway rejects the request first",
    "api_permission_missing": "never invoked: API Gateway may not invoke it",
    "function_environment_changed": "reads the wrong (or no) parameter",
    "function_role_changed": "calls AWS as another role",
    "function_configuration_changed": "fails: its handler, runtime, layers, timeout or memory is not the stack's",
    "role_trust_broken": "never runs: Lambda cannot assume its role",
    "fis_errors_injected": "fails the injected share of its invocations (the FIS extension's error)",
    "fis_latency_injected": "starts the injected share of its invocations late (the FIS extension's delay)",
    "unknown": "errors of unknown cause",
}
# What the API answers when each cause holds (default: 5XX, a 500 from the function).
API_ANSWER = {
    "no_images": "error responses",
    "api_throttled": "429 Too Many Requests (4XX)",
    "api_permission_missing": "500 from API Gateway itself (the function is not invoked)",
    "fis_errors_injected": "5XX responses to the injected share, the others answered",
    "fis_latency_injected": "slow responses to the injected share, every request answered",
    "unknown": "error responses",
}


def _by_id(evidence: Sequence[Evidence]) -> dict[str, Evidence]:
    return {e.id: e for e in evidence}


def cause(root: Hypothesis, cited: Sequence[Evidence]) -> str:
    """The first link of the impact path: the resource state that breaks the request."""
    if root.kind == "bucket_policy_deny":
        denies = [e for e in cited if e.source == "bucket_policy"]
        sids = ", ".join(str(e.facts.get("sid") or f"#{e.facts.get('index')}") for e in denies)
        actions = ", ".join(sorted({a for e in denies for a in e.facts.get("actions", [])}))
        return f"bucket policy of {root.resource}: {sids} explicitly deny {actions} to the image function's role"
    if root.kind == "role_permission_missing":
        missing = [e for e in cited if e.source == "role_policy"]
        verdicts = "; ".join(f"{e.facts['action']} {e.facts['decision']}" for e in missing)
        return f"role {root.resource.rsplit('/', 1)[-1]}: {verdicts}"
    states = (
        "parameter",
        "images",
        "concurrency",
        "api",
        "function_policy",
        "function",
        "role_trust",
        "drift",
        "experiments",
    )
    state = next((e for e in cited if e.source in states), None)
    return state.detail if state else root.summary


def impact_path(root: Hypothesis, evidence: Sequence[Evidence], target: Target) -> list[str]:
    """Cause -> image function -> API, each step backed by evidence where there is some."""
    cited = [e for i in root.evidence if (e := _by_id(evidence).get(i))]
    path = [cause(root, cited)]

    errors = [e for e in cited if e.source == "logs"]
    throttles = [e for e in cited if e.source == "metrics" and e.facts.get("metric") == "fn_throttles"]
    if errors:
        path += [
            f"image function {target.function_name}: {e.facts.get('error_code')} from {e.facts.get('operation')} "
            f"({e.facts.get('count')} error line{'' if e.facts.get('count') == 1 else 's'})"
            for e in errors
        ]
    elif throttles:
        path.append(f"image function {target.function_name}: {throttles[0].detail}")
    else:
        path.append(
            f"image function {target.function_name}: {EXPECTED_FAILURE[root.kind]} (expected; no error "
            "lines read in the window)"
        )

    api = f"API {target.api_name}/{target.api_stage}" if target.api_name else "API"
    metric = "api_4xx" if root.kind == "api_throttled" else "api_5xx"
    seen = [
        e.detail
        for e in evidence
        if e.available
        and (
            (e.source == "alarms" and e.facts.get("purpose") == "api_5xx" and e.facts.get("state") == "ALARM")
            or (e.source == "metrics" and e.facts.get("metric") == metric and e.facts.get("sum", 0) > 0)
        )
    ]
    answer = API_ANSWER.get(root.kind, "5XX responses (500 from the function)")
    none_yet = f" (expected; no {metric.removeprefix('api_').upper()} datapoint yet)"
    if root.kind == "fis_latency_injected":  # slow, not failing: the latency symptoms are what the API shows
        seen, none_yet = [e.detail for e in Evidences(tuple(evidence)).latency()], " (expected; no latency rise yet)"
    path.append(f"{api}: {answer}" + (f" — {'; '.join(seen)}" if seen else none_yet))
    return path


def timeline(evidence: Sequence[Evidence], window: Window) -> list[TimelineEntry]:
    """Events in time order; an alarm change seen both in state and in history is listed once."""
    entries: dict[tuple, TimelineEntry] = {}
    for e in evidence:
        if not e.available or not e.event:
            continue
        alarm = e.facts.get("alarm")
        key = (e.time, alarm, e.facts.get("to_state")) if alarm else (e.time, e.event)
        if key in entries and e.source == "alarms":
            continue  # the history item says the same with more detail
        entries[key] = TimelineEntry(e.time, e.event)
    ordered = sorted(entries.values(), key=lambda t: t.time)
    ordered.append(TimelineEntry(iso(window.end), f"investigation (window from {iso(window.start)})"))
    return ordered


def resource_tags(evidence: Sequence[Evidence]) -> list[ResourceTags]:
    """The tags found on each examined resource (from the tags source)."""
    return [
        ResourceTags(e.facts["resource"], e.facts["kind"], dict(e.facts["tags"]), tuple(e.facts["missing"]))
        for e in evidence
        if e.source == "tags" and e.available and "tags" in e.facts
    ]


def caveats(evidence: Sequence[Evidence], target: Target | None = None) -> list[str]:
    notes = [f"{e.source} was unavailable: {e.facts.get('reason')}" for e in evidence if not e.available]
    notes += [e.detail for e in evidence if e.source == "cloudtrail" and e.facts.get("summary")]
    if any(e.source == "cloudtrail" and not e.available for e in evidence):
        notes.append(
            "Without CloudTrail the actor and time of the change are unknown; the root cause rests on "
            "the current state of the resources."
        )
    untagged = [t for t in resource_tags(evidence) if t.missing]
    if untagged:
        notes.append(
            "Resources without the application tags: "
            + "; ".join(f"{t.kind} {t.resource} lacks {', '.join(t.missing)}" for t in untagged)
        )
    drift = [e for e in evidence if e.source == "drift" and e.available and "property" in e.facts]
    if drift:
        notes.append("Drift from the declared state: " + "; ".join(e.detail for e in drift))
    if target is not None:
        notes += [target.notes[k] for k in ("declared_role_arn", "rest_api_id") if k in target.notes]
    return notes


def _total(evidence: Sequence[Evidence], source: str, key: str) -> float:
    return sum(float(e.facts.get(key) or 0) for e in evidence if e.source == source and e.available)


def _metric(evidence: Sequence[Evidence], name: str) -> float:
    return sum(float(e.facts.get("sum") or 0) for e in evidence if e.available and e.facts.get("metric") == name)


def shares(evidence: Sequence[Evidence]) -> list[Share]:
    """The share of failing requests per source: the API's metrics (5XX of Count), the function's log
    (its error lines of its Invocations) and the access log (5XX of its lines); 4XX count as failing only
    when they are throttling."""
    ev = Evidences(tuple(evidence))
    throttled = bool(ev.throttling())
    found = []
    if any(e.source == "metrics" and e.available for e in evidence):
        failing = _metric(evidence, "api_5xx") + (_metric(evidence, "api_4xx") if throttled else 0)
        what = "5XX" + (" and 4XX (throttling)" if throttled else "") + " datapoints of API requests (Count)"
        found.append(Share("metrics", failing, _metric(evidence, "api_count") or None, what))
    if ev.of("logs"):
        lines = sum(float(e.facts.get("count") or 0) for e in ev.of("logs") if e.facts.get("error_code"))
        invocations = _metric(evidence, "fn_invocations") or None
        found.append(Share("logs", lines, invocations, "the function's error lines of its invocations (metric)"))
    logged = [e for e in ev.of("access_logs") if e.facts.get("configured")]
    if logged:
        failing = _total(logged, "access_logs", "5xx") + (_total(logged, "access_logs", "429") if throttled else 0)
        requests = _total(logged, "access_logs", "requests") or None
        what = "5XX" + (" and 429" if throttled else "") + " in the access log's status field"
        found.append(Share("access_logs", failing, requests, what))
    return found


def client_errors(evidence: Sequence[Evidence]) -> str | None:
    """The note on 4XX that are not throttling (clients' mistakes, not a fault), naming what decided it."""
    ev = Evidences(tuple(evidence))
    if ev.throttling():
        return None
    in_metrics, requests = _metric(evidence, "api_4xx"), _metric(evidence, "api_count")
    in_log = _total(ev.of("access_logs"), "access_logs", "4xx")
    if not in_metrics and not in_log:
        return None
    logged = [e for e in ev.of("access_logs") if e.facts.get("configured")]
    counted = f"{in_log:g} 4XX in the access log" if logged else f"{in_metrics:g} 4XX datapoints"
    of = _total(logged, "access_logs", "requests") if logged else requests
    rate = f" of {of:g} requests ({in_log / of if logged else in_metrics / of:.0%})" if of else ""
    stage = "the stage's limits on GET /random are not restrictive" if ev.of("api") else "the stage was not read"
    decided = (
        "no 429 in the access log's status field (decided by the access log)"
        if logged
        else "no access log to tell 429 from other 4XX (decided by the stage's limits alone)"
    )
    return f"Client errors: {counted}{rate}. Not throttling: {stage}, {decided}; clients' mistakes, not a fault."
