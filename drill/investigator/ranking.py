"""From evidence to ranked hypotheses and the root cause. Reads evidence only: no AWS calls, no
knowledge of the stack.

The rules (`rules_path` for API Gateway and the function's configuration, `rules` for what lies behind
them, `rules_fis` for the faults AWS FIS injects) each turn the evidence into at most one hypothesis with a
confidence (see `evidences`). A cause *holds* from 0.5 up. When several hold, the root cause is the one a
request meets first on its path (REQUEST_PATH_ORDER); the others stay in the hypotheses. When none holds
but there are symptoms, the root cause is `unknown`: never "healthy" while the API fails or is slow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from drill.investigator import rules, rules_fis, rules_path
from drill.investigator.evidences import ROOT_CAUSE_THRESHOLD, Evidences
from drill.investigator.model import REQUEST_PATH_ORDER, Evidence, Hypothesis

RULES: tuple[Callable[[Evidences], Hypothesis | None], ...] = (
    rules_path.api_throttled,
    rules_path.api_permission_missing,
    rules_path.function_configuration_changed,
    rules_path.function_environment_changed,
    rules_path.function_role_changed,
    rules_path.role_trust_broken,
    rules.bucket_policy_deny,
    rules.role_permission_missing,
    rules.parameter_missing,
    rules.parameter_wrong_bucket,
    rules.no_images,
    rules.function_throttled,
    rules_fis.fis_errors_injected,
    rules_fis.fis_latency_injected,
)

# What the investigator cannot see, named when the symptoms have no explanation it could find.
UNCHECKED = (
    (
        "organization service control policies (SCPs)",
        "An SCP of the account's organization may deny the function's calls; the drill cannot read "
        "SCPs from a member account (aws organizations list-policies-for-target, from the management account).",
    ),
    (
        "session policies of the function's role session",
        "A session policy limits a role session below its role's policies and is visible to neither "
        "the policy simulator nor the role's policies.",
    ),
    (
        "an AWS service event (Lambda, API Gateway, S3, SSM)",
        "A regional service event shows in the AWS Health Dashboard (aws health describe-events), "
        "not in the stack's resources.",
    ),
)


# What may make the image path slow that the investigator does not read: named, never blamed, when latency is
# the only symptom (with no experiment and no configuration change to explain it).
UNCHECKED_LATENCY = (
    (
        "cold starts (new execution environments)",
        "Lambda's REPORT lines give each cold start's Init Duration: aws logs filter-log-events --log-group-name "
        "/aws/lambda/<function> --filter-pattern '\"Init Duration\"'.",
    ),
    (
        "slower calls to S3 or SSM, or larger images",
        "The function's X-Ray traces (Active tracing) split its Duration by downstream call.",
    ),
    UNCHECKED[2],
)


def rank(evidence: Iterable[Evidence]) -> list[Hypothesis]:
    """All hypotheses the evidence supports, most confident first (ties: the first on the path)."""
    ev = Evidences(tuple(evidence))
    found = [h for rule in RULES if (h := rule(ev)) is not None]
    return sorted(found, key=lambda h: (-h.confidence, REQUEST_PATH_ORDER.index(h.kind)))


def root_cause(hypotheses: Sequence[Hypothesis]) -> Hypothesis | None:
    """Of the causes that hold (confidence >= 0.5), the one a request meets first."""
    holding = [h for h in hypotheses if h.confidence >= ROOT_CAUSE_THRESHOLD]
    return min(holding, key=lambda h: REQUEST_PATH_ORDER.index(h.kind), default=None)


def symptom_resource(symptoms: Sequence[Evidence]) -> str:
    """What the symptoms point at: the API (its metrics or alarm), else the function."""
    for e in symptoms:
        if e.facts.get("resource"):
            return str(e.facts["resource"])
    return next((str(e.facts["alarm"]) for e in symptoms if e.facts.get("alarm")), "the image service")


def unknown(evidence: Sequence[Evidence], weak: Sequence[Hypothesis]) -> list[Hypothesis]:
    """The `unknown` root cause (symptoms as evidence) and what could not be checked, as hypotheses."""
    ev = Evidences(tuple(evidence))
    symptoms = ev.symptoms()
    ids = tuple(e.id for e in symptoms)
    unread = sorted({e.source for e in evidence if not e.available})
    slow = {e.id for e in ev.latency()}
    places = UNCHECKED_LATENCY if set(ids) <= slow else UNCHECKED  # only slow: latency's own unchecked places
    summary = (
        f"Symptoms without an explanation found: {'; '.join(e.detail for e in symptoms[:4])}. None of the "
        "checked causes holds"
        + (f" (weak: {', '.join(h.kind for h in weak)})" if weak else "")
        + (f"; sources that could not be read: {', '.join(unread)}" if unread else "")
        + ". Not checkable from here: "
        + "; ".join(name for name, _ in places)
        + "."
    )
    root = Hypothesis("unknown", symptom_resource(symptoms), ROOT_CAUSE_THRESHOLD, ids, summary)
    unchecked = [Hypothesis("unknown", name, 0.2, ids, why) for name, why in places]
    return [root, *weak, *unchecked]


def conclude(evidence: Sequence[Evidence]) -> tuple[Hypothesis | None, list[Hypothesis]]:
    """(root cause, hypotheses with the root cause first); (None, weak ones) only without symptoms."""
    hypotheses = rank(evidence)
    root = root_cause(hypotheses)
    if root is not None:
        return root, [root, *(h for h in hypotheses if h is not root)]
    if Evidences(tuple(evidence)).symptoms():
        found = unknown(evidence, hypotheses)
        return found[0], found
    return None, hypotheses
