"""What the investigator works with: the target, evidence, hypotheses and the finished report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from drill.outputs import IMAGE_ROLE, denied_role

# Every kind the investigator can name (`unknown`: symptoms without a cause found).
RootCauseKind = Literal[
    "api_throttled",
    "api_permission_missing",
    "function_throttled",
    "function_configuration_changed",
    "function_environment_changed",
    "function_role_changed",
    "role_trust_broken",
    "role_permission_missing",
    "parameter_missing",
    "parameter_wrong_bucket",
    "bucket_policy_deny",
    "no_images",
    "fis_errors_injected",
    "fis_latency_injected",
    "unknown",
]
# The order a request meets the causes: API Gateway (stage throttling, then the function's resource policy
# when it invokes), the function's configuration (concurrency, environment, role), the role's permissions,
# the parameter, the bucket. Among the causes that hold, the root cause is the first. Written out on
# purpose, not read from the Literal: reordering the type must never change which cause is blamed, and a
# new kind is placed here deliberately (tests/test_drill_investigator_order.py states the expected root of
# every pair, and fails until the new kind has its row).
REQUEST_PATH_ORDER: tuple[RootCauseKind, ...] = (
    "api_throttled",
    "api_permission_missing",
    "function_throttled",
    "function_configuration_changed",  # handler, runtime, layers, timeout, memory: before the handler's code
    "function_environment_changed",
    "function_role_changed",
    "role_trust_broken",  # Lambda assumes the role the configuration names before the handler runs
    # The FIS extension wraps the handler: an injected error ends the invocation before the handler's calls.
    "fis_errors_injected",
    "role_permission_missing",
    "parameter_missing",
    "parameter_wrong_bucket",
    "bucket_policy_deny",
    "no_images",
    # A delay stops no request: every cause that fails requests explains more of what users see.
    "fis_latency_injected",
    "unknown",
)
# "Now" for an incident: symptoms later than this before the investigation are current, earlier ones past.
# CloudWatch publishes one-minute metrics a minute or two late, so less than five minutes reads as silence.
RECENT_MINUTES = 5
Status = Literal["fault", "healthy", "recovered"]
# The tag keys every resource of the stack carries (provider default tags, see the README's "Tags").
APPLICATION_TAG_KEYS = ("Application", "Stack")


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
    role_arn: str | None = None  # the role the function runs under now (what its requests use)
    role_id: str | None = None
    api_name: str | None = None
    api_stage: str = "prod"
    rest_api_id: str | None = None  # output RestApiId, else looked up by the API's name
    declared_role_arn: str | None = None  # output ImageFunctionRoleArn: the role the stack gave the function
    alarms: dict[str, str] = field(default_factory=dict)  # purpose ("invocations", "api_5xx", "errors", ...) -> name
    fault_function: str | None = None
    seeder_function: str | None = None
    fis_configuration_location: str | None = None  # output FisConfigurationLocation: arn:aws:s3:::bucket/prefix/
    fis_templates: dict[str, str] = field(default_factory=dict)  # "latency"/"errors" -> experiment template id
    notes: dict[str, str] = field(default_factory=dict)  # why a field is None, keyed by field name

    @property
    def fault_role_arn(self) -> str | None:
        """The role the fault injector was given to deny (the drill's one rule, drill/outputs.py)."""
        return denied_role({IMAGE_ROLE: self.declared_role_arn}, lambda: self.role_arn)

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

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    def invoke_source_arn(self, stage: str | None = None) -> str | None:
        """The SourceArn of API Gateway's invocation for GET /random (`*` stage: the stack's permission)."""
        if not self.rest_api_id:
            return None
        api = f"arn:aws:execute-api:{self.region}:{self.account}:{self.rest_api_id}"
        return f"{api}/{stage or self.api_stage}/GET/random"


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
class SourceTiming:
    """How long one evidence source took, and whether it could be read."""

    name: str
    seconds: float
    available: bool


@dataclass(frozen=True)
class ResourceTags:
    """The tags found on one examined resource; `missing` lists the application keys it lacks."""

    resource: str
    kind: str
    tags: dict[str, str]
    missing: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource, "kind": self.kind, "tags": dict(self.tags), "missing": list(self.missing)}


@dataclass(frozen=True)
class Incident:
    """A past incident: symptoms from `start` to `end` that stopped while no cause holds now."""

    start: str
    end: str
    evidence: tuple[str, ...]  # the past symptoms, and the changes CloudTrail saw around them
    recovery: tuple[str, ...]  # what shows requests succeed now (recent traffic, probes)
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "evidence": list(self.evidence),
            "recovery": list(self.recovery),
            "summary": self.summary,
        }


@dataclass(frozen=True)
class Share:
    """The share of requests that failed in the window, as one source counts them."""

    source: str
    failing: float
    requests: float | None  # None: the source does not count requests (then no share)
    what: str  # what was counted, for a person

    @property
    def share(self) -> float | None:
        return round(self.failing / self.requests, 3) if self.requests else None

    def to_json(self) -> dict[str, Any]:
        return {"failing": self.failing, "requests": self.requests, "share": self.share, "what": self.what}


@dataclass(frozen=True)
class Report:
    status: Status
    root_cause: Hypothesis | None
    hypotheses: tuple[Hypothesis, ...]
    evidence: tuple[Evidence, ...]
    impact_path: tuple[str, ...]
    timeline: tuple[TimelineEntry, ...]
    remediation: tuple[str, ...]
    target: Target
    window: Window
    notes: tuple[str, ...] = ()  # caveats for the person reading (CloudTrail delay, unavailable sources)
    sources: tuple[SourceTiming, ...] = ()
    tags: tuple[ResourceTags, ...] = ()
    seconds: float | None = None  # the whole collection (sources run concurrently)
    incident: Incident | None = None  # set when the status is `recovered`
    shares: tuple[Share, ...] = ()

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
            "sources": {s.name: {"seconds": s.seconds, "available": s.available} for s in self.sources},
            "seconds": self.seconds,
            "tags": [t.to_json() for t in self.tags],
            "incident": None if self.incident is None else self.incident.to_json(),
            "shares": {s.source: s.to_json() for s in self.shares},
        }
