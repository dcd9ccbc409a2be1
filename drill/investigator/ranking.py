"""From evidence to ranked hypotheses. Reads evidence only: no AWS calls, no knowledge of the stack.

Each rule starts from the *state* evidence that makes its cause true now (a Deny statement, a missing
permission, a missing parameter, ...) and adds confidence for corroboration: the image function's
error lines carrying the matching AWS error code (+0.2), a CloudTrail event that made the change
(+0.1, and it names the actor), and the symptoms (+0.05: a 5XX/errors alarm in ALARM or 5XX, error or
throttle datapoints). A cause is reported as the root cause from 0.5 up; ties go to the cause a
request meets first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from drill.investigator.model import REQUEST_PATH_ORDER, Evidence, Hypothesis, RootCauseKind

ROOT_CAUSE_THRESHOLD = 0.5
LOG_WEIGHT, CLOUDTRAIL_WEIGHT, SYMPTOM_WEIGHT = 0.2, 0.1, 0.05

S3_DENIED = {"AccessDenied", "403"}  # moto reports a denied S3 call as "403"
S3_OPERATIONS = {"ListObjectsV2", "ListObjects", "GetObject", "HeadObject"}
SSM_DENIED = {"AccessDeniedException"}


@dataclass(frozen=True)
class Evidences:
    """The available evidence, with the lookups the rules share."""

    items: tuple[Evidence, ...]

    def of(self, source: str) -> list[Evidence]:
        return [e for e in self.items if e.source == source and e.available]

    def logs(self, codes: set[str], operations: set[str] | None = None, **fields: str | None) -> list[Evidence]:
        found = []
        for e in self.of("logs"):
            f = e.facts
            if f.get("error_code") not in codes or (operations and f.get("operation") not in operations):
                continue
            if any(value is not None and f.get(key) not in (None, value) for key, value in fields.items()):
                continue
            found.append(e)
        return found

    def changes(self, event_names: set[str], resource: str | None) -> list[Evidence]:
        return [
            e
            for e in self.of("cloudtrail")
            if e.facts.get("event_name") in event_names and resource and e.facts.get("resource") == resource
        ]

    def symptoms(self) -> list[Evidence]:
        alarms = [
            e
            for e in self.of("alarms")
            if e.facts.get("state") == "ALARM" and e.facts.get("purpose") in ("api_5xx", "errors")
        ]
        metrics = [
            e
            for e in self.of("metrics")
            if e.facts.get("metric") in ("api_5xx", "fn_errors", "fn_throttles") and e.facts.get("sum", 0) > 0
        ]
        return alarms + metrics


def hypothesis(
    kind: RootCauseKind,
    resource: str,
    base: float,
    state: Sequence[Evidence],
    summary: str,
    evidences: Evidences,
    *,
    logs: Sequence[Evidence] = (),
    changes: Sequence[Evidence] = (),
    extra: Sequence[Evidence] = (),
) -> Hypothesis:
    symptoms = evidences.symptoms()
    confidence = base + (LOG_WEIGHT if logs else 0) + (CLOUDTRAIL_WEIGHT if changes else 0)
    confidence += SYMPTOM_WEIGHT if symptoms else 0
    latest = max(changes, key=lambda e: e.facts.get("changed_at") or "", default=None)
    ids = dict.fromkeys(e.id for group in (state, logs, extra, changes, symptoms) for e in group)
    return Hypothesis(
        kind=kind,
        resource=resource,
        confidence=round(min(confidence, 0.99), 2),
        evidence=tuple(ids),
        summary=summary,
        actor=latest.facts.get("actor") if latest else None,
        changed_at=latest.facts.get("changed_at") if latest else None,
    )


def bucket_policy_deny(ev: Evidences) -> Hypothesis | None:
    denies = [e for e in ev.of("bucket_policy") if e.facts.get("deny")]
    if not denies:
        return None
    bucket = denies[0].facts["bucket"]
    certain = any(e.facts.get("certain") for e in denies)
    actions = sorted({a for e in denies for a in e.facts.get("actions", [])})
    sids = [str(e.facts.get("sid") or f"#{e.facts.get('index')}") for e in denies]
    injected = all(e.facts.get("injected") for e in denies)
    summary = (
        f"The bucket policy of {bucket} {'denies' if certain else 'may deny'} the image function's role "
        f"{', '.join(actions)} (statement{'s' if len(sids) > 1 else ''} {', '.join(sids)}"
        f"{', injected by the fault injector' if injected else ''}), so the function's S3 calls fail with "
        "AccessDenied and the API answers 5XX."
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
    summary = (
        f"The image function's role {role_arn.rsplit('/', 1)[-1]} {how} {', '.join(actions)}, so the "
        "function's calls fail with AccessDenied and the API answers 5XX."
    )
    return hypothesis(
        "role_permission_missing",
        role_arn,
        0.6 if certain else 0.3,
        missing,
        summary,
        ev,
        logs=logs,
        changes=ev.changes({"PutRolePolicy", "DeleteRolePolicy", "DetachRolePolicy"}, role_arn.rsplit("/", 1)[-1]),
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
    base = {False: 0.6, None: 0.45, True: 0.35}[exists]
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
    zero = [e for e in ev.of("concurrency") if e.facts.get("reserved") == 0]
    if not zero:
        return None
    function = zero[0].facts["function"]
    throttles = [e for e in ev.of("metrics") if e.facts.get("metric") == "fn_throttles" and e.facts.get("sum", 0) > 0]
    summary = (
        f"The image function {function} has reserved concurrency 0, so Lambda throttles every invocation "
        "and the API answers 5XX."
    )
    # Throttled invocations never run, so there are no error lines: the Throttles metric corroborates.
    return hypothesis(
        "function_throttled",
        function,
        0.7,
        zero,
        summary,
        ev,
        logs=throttles,
        changes=ev.changes({"PutFunctionConcurrency"}, function),
    )


RULES: tuple[Callable[[Evidences], Hypothesis | None], ...] = (
    bucket_policy_deny,
    role_permission_missing,
    parameter_missing,
    parameter_wrong_bucket,
    no_images,
    function_throttled,
)


def rank(evidence: Iterable[Evidence]) -> list[Hypothesis]:
    """All hypotheses the evidence supports, most confident first."""
    ev = Evidences(tuple(evidence))
    found = [h for rule in RULES if (h := rule(ev)) is not None]
    return sorted(found, key=lambda h: (-h.confidence, REQUEST_PATH_ORDER.index(h.kind)))


def root_cause(hypotheses: Sequence[Hypothesis]) -> Hypothesis | None:
    """The top hypothesis, if it is confident enough to act on."""
    if hypotheses and hypotheses[0].confidence >= ROOT_CAUSE_THRESHOLD:
        return hypotheses[0]
    return None
