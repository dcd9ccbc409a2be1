"""Ranking rules for the causes behind the function's configuration: its role's permissions, the
parameter, the bucket policy, the images, and the function's concurrency. Evidence in, a hypothesis out."""

from __future__ import annotations

from drill.investigator.evidences import S3_DENIED, S3_OPERATIONS, SSM_DENIED, Evidences, hypothesis
from drill.investigator.model import Evidence, Hypothesis

ROLE_CHANGES = {
    "PutRolePolicy",
    "DeleteRolePolicy",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePermissionsBoundary",
    "DeleteRolePermissionsBoundary",
}


def bucket_policy_deny(ev: Evidences) -> Hypothesis | None:
    denies = [e for e in ev.of("bucket_policy") if e.facts.get("deny")]
    if not denies:
        return None
    bucket = denies[0].facts["bucket"]
    certain = any(e.facts.get("certain") for e in denies)
    actions = sorted({a for e in denies for a in e.facts.get("actions", [])})
    sids = [str(e.facts.get("sid") or f"#{e.facts.get('index')}") for e in denies]
    injected = all(e.facts.get("injected") for e in denies)
    share = denies[0].facts.get("share" if certain else "share_possible")
    listed = denies[0].facts.get("keys_listed")
    part = share is not None and share < 1
    which = (
        f"the requests that pick one of the {sum(e.facts.get('keys_blocked', 0) for e in denies)} denied keys, "
        f"{share:.0%} of them (of {listed} listed images), fail"
        if part
        else "the function's S3 calls fail"
    )
    summary = (
        f"The bucket policy of {bucket} {'denies' if certain else 'may deny'} the image function's role "
        f"{', '.join(actions)} (statement{'s' if len(sids) > 1 else ''} {', '.join(sids)}"
        f"{', injected by the fault injector' if injected else ''}), so {which} with AccessDenied and the API "
        "answers 5XX."
    )
    return hypothesis(
        "bucket_policy_deny",
        bucket,
        0.6 if certain else 0.3,
        denies,
        summary,
        ev,
        logs=ev.logs(S3_DENIED, S3_OPERATIONS, bucket=bucket),
        changes=ev.changes({"PutBucketPolicy"}, bucket),
    )


def role_permission_missing(ev: Evidences) -> Hypothesis | None:
    missing = [e for e in ev.of("role_policy") if e.facts.get("decision") in ("implicitDeny", "explicitDeny")]
    if not missing:
        return None
    role_arn = missing[0].facts["role"]
    certain = any(e.facts.get("certain") for e in missing)
    actions = [e.facts["action"] for e in missing]
    logs: list[Evidence] = []
    if "ssm:GetParameter" in actions:
        logs += ev.logs(SSM_DENIED, {"GetParameter"})
    if any(a.startswith("s3:") for a in actions):
        logs += ev.logs(S3_DENIED, S3_OPERATIONS)
    how = "explicitly denies" if any(e.facts["decision"] == "explicitDeny" for e in missing) else "does not allow"
    by = sorted({label for e in missing for label in e.facts.get("statements", [])})
    boundaries = sorted({e.facts["boundary"] for e in missing if e.facts.get("boundary")})
    named = "; ".join([*by, *(f"{b} does not allow it" for b in boundaries)])
    partial = [e.facts for e in missing if e.facts.get("share") is not None and e.facts["share"] < 1]
    which = (
        f"the requests that pick one of the {partial[0]['keys_blocked']} keys it may not read, "
        f"{partial[0]['share']:.0%} of them (of {partial[0]['keys_listed']} listed images), fail"
        if partial and len(missing) == 1
        else "the function's calls fail"
    )
    summary = (
        f"The image function's role {role_arn.rsplit('/', 1)[-1]} {how} {', '.join(actions)}"
        + (f" ({named})" if named else "")
        + f", so {which} with AccessDenied and the API answers 5XX."
    )
    return hypothesis(
        "role_permission_missing",
        role_arn,
        0.6 if certain else 0.3,
        missing,
        summary,
        ev,
        logs=logs,
        changes=ev.changes(ROLE_CHANGES, role_arn.rsplit("/", 1)[-1]),
    )


def parameter_missing(ev: Evidences) -> Hypothesis | None:
    gone = [e for e in ev.of("parameter") if e.facts.get("exists") is False]
    if not gone:
        return None
    name = gone[0].facts["name"]
    summary = (
        f"The parameter {name} that names the image bucket does not exist, so the function's GetParameter "
        "fails with ParameterNotFound and the API answers 5XX."
    )
    return hypothesis(
        "parameter_missing",
        name,
        0.7,
        gone,
        summary,
        ev,
        logs=ev.logs({"ParameterNotFound"}, {"GetParameter"}),
        changes=ev.changes({"DeleteParameter"}, name),
    )


def parameter_wrong_bucket(ev: Evidences) -> Hypothesis | None:
    wrong = [e for e in ev.of("parameter") if e.facts.get("exists") and e.facts.get("matches") is False]
    if not wrong:
        return None
    facts = wrong[0].facts
    exists = facts.get("bucket_exists")
    # Any difference, however small (a case, a trailing space), is another bucket: the function's role may
    # read only the stack's bucket, so the calls fail, or serve what the stack did not put there.
    base = {False: 0.6, None: 0.6, True: 0.5}[exists]
    state = {False: "which does not exist", None: "which could not be checked", True: "another existing bucket"}
    summary = (
        f"The parameter {facts['name']} names bucket {facts['value']!r}, {state[exists]}, instead of the "
        f"stack's bucket {facts['expected']!r}, so the function reads the wrong bucket."
    )
    return hypothesis(
        "parameter_wrong_bucket",
        facts["name"],
        base,
        wrong,
        summary,
        ev,
        logs=ev.logs({"NoSuchBucket", "AccessDenied", "403", "404"}, S3_OPERATIONS, bucket=facts["value"]),
        changes=ev.changes({"PutParameter"}, facts["name"]),
    )


def no_images(ev: Evidences) -> Hypothesis | None:
    empty = [e for e in ev.of("images") if e.facts.get("count") == 0]
    if not empty:
        return None
    bucket = empty[0].facts["bucket"]
    why = "does not exist" if empty[0].facts.get("bucket_exists") is False else "holds no .jpg/.jpeg/.png images"
    summary = f"The bucket {bucket} {why}, so the image function has no image to return."
    return hypothesis(
        "no_images",
        bucket,
        0.6,
        empty,
        summary,
        ev,
        changes=ev.changes({"DeleteObject", "DeleteObjects"}, bucket),
    )


def function_throttled(ev: Evidences) -> Hypothesis | None:
    """Reserved concurrency 0 throttles every invocation; above 0 but below demand it throttles the
    excess: then the Throttles datapoints are what makes it a cause (without them it is a trap)."""
    reserved = [e for e in ev.of("concurrency") if e.facts.get("reserved") is not None]
    throttles = ev.metric("fn_throttles")
    zero = [e for e in reserved if e.facts.get("reserved") == 0]
    limited = [e for e in reserved if e.facts.get("reserved", 0) > 0] if throttles else []
    state = zero or limited
    if not state:
        return None
    function, limit = state[0].facts["function"], state[0].facts["reserved"]
    if zero:
        effect = "so Lambda throttles every invocation"
    else:
        count = sum(e.facts.get("sum", 0) for e in throttles)
        invoked = sum(e.facts.get("sum", 0) for e in ev.metric("fn_invocations"))
        share = f", {count / (count + invoked):.0%} of the calls" if count + invoked else ""
        effect = f"below demand: Lambda throttled {count:g} invocations in the window{share}"
    summary = f"The image function {function} has reserved concurrency {limit}, {effect}, and the API answers 5XX."
    # Throttled invocations never run, so there are no error lines: the Throttles metric corroborates.
    return hypothesis(
        "function_throttled",
        function,
        0.7 if zero else 0.35,
        state,
        summary,
        ev,
        logs=throttles,
        changes=ev.changes({"PutFunctionConcurrency", "DeleteFunctionConcurrency"}, function),
    )
