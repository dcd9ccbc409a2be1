"""What the investigator works with: the target, evidence, hypotheses and the finished report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

RootCauseKind = Literal[
    "bucket_policy_deny",
    "role_permission_missing",
    "parameter_missing",
    "parameter_wrong_bucket",
    "no_images",
    "function_throttled",
]
# The order a request meets them (throttle, parameter read, S3 calls, objects): breaks confidence ties
# in favour of the cause that fails first.
REQUEST_PATH_ORDER: tuple[RootCauseKind, ...] = (
    "function_throttled",
    "parameter_missing",
    "parameter_wrong_bucket",
    "role_permission_missing",
    "bucket_policy_deny",
    "no_images",
)


def iso(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: what every time in the report looks like."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Window:
    """The investigated time window."""

    start: datetime
    end: datetime

    @classmethod
    def last(cls, minutes: float, now: datetime) -> Window:
        return cls(start=now - timedelta(minutes=minutes), end=now)


@dataclass(frozen=True)
class Target:
    """The stack's resources as the collectors need them (resolved once, before collection)."""

    region: str
    account: str
    prefix: str
    bucket: str
    function_name: str
    parameter_name: str
    role_arn: str | None = None
    role_id: str | None = None
    api_name: str | None = None
    api_stage: str = "prod"
    alarms: dict[str, str] = field(default_factory=dict)  # purpose ("invocations", "api_5xx", "errors") -> name
    fault_function: str | None = None
    seeder_function: str | None = None
    notes: dict[str, str] = field(default_factory=dict)  # why a field is None, keyed by field name

    @property
    def role_name(self) -> str | None:
        return self.role_arn.rsplit("/", 1)[-1] if self.role_arn else None

    @property
    def session_arn(self) -> str | None:
        """Lambda calls AWS as an assumed-role session named after the function."""
        if not self.role_name:
            return None
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.function_name}"

    @property
    def parameter_arn(self) -> str:
        name = self.parameter_name if self.parameter_name.startswith("/") else f"/{self.parameter_name}"
        return f"arn:aws:ssm:{self.region}:{self.account}:parameter{name}"

    @property
    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class Evidence:
    """One observation. `facts` is what the ranking reads; `detail` is what a person reads.

    `event` (a short sentence) puts the item on the timeline at `time`; state observations leave it
    None and carry the time they were observed. `available=False` marks a source that could not be read.
    """

    id: str
    source: str
    time: str
    detail: str
    facts: dict[str, Any] = field(default_factory=dict)
    event: str | None = None
    available: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "time": self.time, "detail": self.detail}


@dataclass(frozen=True)
class Hypothesis:
    kind: RootCauseKind
    resource: str
    confidence: float
    evidence: tuple[str, ...]
    summary: str
    actor: str | None = None
    changed_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "resource": self.resource,
            "confidence": self.confidence,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True)
class TimelineEntry:
    time: str
    event: str

    def to_json(self) -> dict[str, str]:
        return {"time": self.time, "event": self.event}


@dataclass(frozen=True)
class Report:
    status: Literal["fault", "healthy"]
    root_cause: Hypothesis | None
    hypotheses: tuple[Hypothesis, ...]
    evidence: tuple[Evidence, ...]
    impact_path: tuple[str, ...]
    timeline: tuple[TimelineEntry, ...]
    remediation: tuple[str, ...]
    target: Target
    window: Window
    notes: tuple[str, ...] = ()  # caveats for the person reading (CloudTrail delay, unavailable sources)

    def to_json(self) -> dict[str, Any]:
        root = self.root_cause
        return {
            "status": self.status,
            "root_cause": None
            if root is None
            else {
                "kind": root.kind,
                "resource": root.resource,
                "summary": root.summary,
                "actor": root.actor,
                "changed_at": root.changed_at,
            },
            "hypotheses": [h.to_json() for h in self.hypotheses],
            "evidence": [e.to_json() for e in self.evidence],
            "impact_path": list(self.impact_path),
            "timeline": [t.to_json() for t in self.timeline],
            "remediation": list(self.remediation),
        }
