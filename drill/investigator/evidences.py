"""What the ranking rules share: the evidence with its lookups, and how a hypothesis gets its confidence.

Each rule starts from the *state* evidence that makes its cause true now (a Deny statement, a missing
permission, a missing parameter, ...) and adds confidence for corroboration: the observation that
shows the cause at work (the image function's error lines with the matching AWS error code, or for
causes in front of the function the API's 4XX/5XX datapoints) (+0.2), a CloudTrail event that made the
change (+0.1, and it names the actor), and the symptoms (+0.05).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drill.investigator.model import Evidence, Hypothesis, RootCauseKind

ROOT_CAUSE_THRESHOLD = 0.5
LOG_WEIGHT, CLOUDTRAIL_WEIGHT, SYMPTOM_WEIGHT = 0.2, 0.1, 0.05

S3_DENIED = {"AccessDenied", "403"}  # moto reports a denied S3 call as "403"
S3_OPERATIONS = {"ListObjectsV2", "ListObjects", "GetObject", "HeadObject"}
SSM_DENIED = {"AccessDeniedException"}
FAILURE_METRICS = {"api_5xx", "fn_errors", "fn_throttles"}  # always the service's failures


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

    def metric(self, name: str) -> list[Evidence]:
        """Datapoints of one metric query, if any were above zero."""
        return [e for e in self.of("metrics") if e.facts.get("metric") == name and e.facts.get("sum", 0) > 0]

    def changes(self, event_names: set[str], resource: str | None, field: str | None = None) -> list[Evidence]:
        """CloudTrail events that changed `resource` in a way that can break a request (tags and
        descriptions cannot); with `field`, configuration calls must have changed that field."""
        return [
            e
            for e in self.of("cloudtrail")
            if e.facts.get("event_name") in event_names
            and resource
            and e.facts.get("resource") == resource
            and not e.facts.get("harmless")
            and (field is None or not e.facts.get("fields") or field in e.facts["fields"])
        ]

    def throttling(self) -> list[Evidence]:
        """What makes 4XX the service's: stage limits that reject requests (the api source) or 429s in
        the access log. Without either, 4XX are clients' mistakes (a wrong path or method)."""
        stage = [e for e in self.of("api") if e.facts.get("throttled")]
        return stage + [e for e in self.of("access_logs") if e.facts.get("429", 0) > 0]

    def latency(self) -> list[Evidence]:
        """Latency as a symptom (docs/investigator.md, "Latency"): the latency alarm in ALARM, or a metric of
        the image path risen over its own baseline (collectors/latency.py)."""
        alarms = [
            e for e in self.of("alarms") if e.facts.get("purpose") == "latency" and e.facts.get("state") == "ALARM"
        ]
        return alarms + [e for e in self.of("latency") if e.facts.get("rise")]

    def symptoms(self, *, lines: bool = True) -> list[Evidence]:
        """What a user of the API would notice as the service failing: a 5XX/errors alarm in ALARM,
        5XX/error/throttle datapoints, 5XX in the access log, failing probes, the function's error lines;
        4XX datapoints (and 429s in the access log) only when they are throttling (`throttling`); latency
        (`latency`), even with every request answered. With any of them the stack is never healthy, however
        small the failing share. Other 4XX are clients' errors: a stack with only those is healthy, with a
        note on the client error rate (`conclusions.client_errors`).
        (Hypotheses cite error lines only when their code matches the cause: `lines=False`.)"""
        alarms = [
            e
            for e in self.of("alarms")
            if e.facts.get("state") == "ALARM" and e.facts.get("purpose") in ("api_5xx", "errors")
        ]
        throttled = bool(self.throttling())
        failing = FAILURE_METRICS | ({"api_4xx"} if throttled else set())
        metrics = [e for e in self.of("metrics") if e.facts.get("metric") in failing and e.facts.get("sum", 0)]
        access = [
            e for e in self.of("access_logs") if e.facts.get("5xx", 0) > 0 or (throttled and e.facts.get("429", 0) > 0)
        ]
        probes = [e for e in self.of("probe") if e.facts.get("failing", 0) > 0]
        errors = [e for e in self.of("logs") if e.facts.get("error_code") and e.facts.get("count", 0) > 0]
        return alarms + metrics + access + probes + self.latency() + (errors if lines else [])


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
    symptoms = evidences.symptoms(lines=False)
    confidence = base + (LOG_WEIGHT if logs else 0) + (CLOUDTRAIL_WEIGHT if changes else 0)
    confidence += SYMPTOM_WEIGHT if symptoms else 0
    # The declared state's differences this kind decides (collectors/drift.py): cited, and when the window's
    # CloudTrail events name no one, the one CloudTrail names for the difference is who made the change.
    drift = [e for e in evidences.of("drift") if e.facts.get("covered_by") == kind]
    latest = max(changes, key=lambda e: e.facts.get("changed_at") or "", default=None)
    if latest is None:
        attributed = [e for e in (*state, *drift) if e.source == "drift" and e.facts.get("actor")]
        latest = max(attributed, key=lambda e: e.facts["changed_at"], default=None)
    ids = dict.fromkeys(e.id for group in (state, drift, logs, extra, changes, symptoms) for e in group)
    return Hypothesis(
        kind=kind,
        resource=resource,
        confidence=round(min(confidence, 0.99), 2),
        evidence=tuple(ids),
        summary=summary,
        actor=latest.facts.get("actor") if latest else None,
        changed_at=latest.facts.get("changed_at") if latest else None,
    )
