"""The rehearsal's notes: what stood in for AWS, what was skipped, and what moto cannot show.

Printed after the drill's table (text) or under the "rehearsal" key (JSON). They say only what the
rehearsal itself observed (the local API's answers, the alarm transitions, the seed result, the
provisioning) plus the fixed limits of the stand-ins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

IAM_UNCHECKED = (
    "Functions run in process with their role's temporary credentials from moto's sts:AssumeRole; moto does not "
    "enforce IAM policies, so least privilege is not exercised here."
)
IAM_CHECKED = (  # rehearse --scenario: drill/rehearsal/access_control.py
    "Functions run in process with their role's temporary credentials from moto's sts:AssumeRole, and moto's own "
    "access control checks their S3 calls against the role's identity policies (an inline Deny is AccessDenied). "
    "Their other calls and every other client are not checked: moto 5 refuses Lambda and API Gateway requests "
    "under its check (SignatureDoesNotMatch) and checks SSM, Lambda, CloudWatch and DynamoDB actions against the "
    "resource '*', which no statement naming its resources matches. moto ignores a bucket policy's Principal."
)
FIXED_CAVEATS = (
    "moto ignores a bucket policy's Principal: the injected Deny (Principal = the image function's role) blocks "
    "every caller in moto, not only that role. The investigator therefore reads the policy, logs and metrics with "
    "its own identity; in moto a denied GetObject carries error code 403 where real S3 says AccessDenied.",
    "The report's remediation commands are for a deployed stack: here the restore step already ran the fault "
    "function's restore against moto, and moto stops with the rehearsal, so there is nothing left to run them on.",
    "moto does not implement cloudtrail:LookupEvents, cloudwatch:DescribeAlarmHistory or "
    "iam:SimulatePrincipalPolicy: the investigator reports those evidence sources as unavailable.",
)


@dataclass
class Notes:
    stack: str
    moto_endpoint: str
    moto_port: int
    api_url: str = ""
    api_port: int = 0
    deployed_endpoint: str = ""
    minute_seconds: float = 0.0
    tick_seconds: float = 0.0
    window_minutes: float = 0.0  # the investigator's window
    provisioned: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)  # type, name, region, default_tags
    seed: dict[str, Any] = field(default_factory=dict)
    api_statuses: list[int] = field(default_factory=list)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    invocations: dict[str, int] = field(default_factory=dict)
    caveats: list[str] = field(default_factory=list)
    iam_checked: bool = False  # moto's access control is on for the functions' S3 calls (rehearse --scenario)
    seconds: float = 0.0

    @property
    def time_compression(self) -> str:
        return (
            f"time is compressed: {self.minute_seconds:g} s of wall time stand for one minute of alarm period, and "
            f"alarms are evaluated every {self.tick_seconds:g} s over periods aligned to that length (CloudWatch "
            "evaluates once a minute, on minute boundaries)"
        )

    @property
    def metrics(self) -> str:
        """Why the alarm's datapoints, the report's totals and the invocation counts below differ."""
        return (
            "each invocation and API request is put to CloudWatch at its wall-clock time: an alarm's datapoint "
            f"sums one compressed period ({self.minute_seconds:g} s standing for a minute), the report's totals sum "
            f"the one-minute periods of its {self.window_minutes:g}-minute window up to the investigation, and the "
            "invocation counts here cover the whole rehearsal, from provisioning to the last status. A one-minute "
            "datapoint is stamped with the start of its minute (as CloudWatch stamps it), so in the report's "
            "timeline it can come before the events of that minute"
        )

    def all_caveats(self) -> list[str]:
        found = list(self.caveats)
        if self.seed.get("status") == "fallback":
            found.append(
                f"Bedrock: moto's bedrock-runtime InvokeModel gave no images ({self.seed.get('reason')}: "
                f"{self.seed.get('detail')}), so the seeder uploaded its {len(self.seed.get('sampleKeys') or [])} "
                "bundled samples, as ImageSeedResult says."
            )
        return [*found, IAM_CHECKED if self.iam_checked else IAM_UNCHECKED, *FIXED_CAVEATS]

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "seconds": round(self.seconds, 1),
            "moto": {"endpoint": self.moto_endpoint, "port": self.moto_port},
            "api": {
                "url": self.api_url,
                "port": self.api_port,
                "stands_in_for": self.deployed_endpoint,
                "statuses": self.api_statuses,
            },
            "time_compression": {
                "alarm_minute_seconds": self.minute_seconds,
                "tick_seconds": self.tick_seconds,
                "note": self.time_compression,
            },
            "metrics": self.metrics,
            "provisioned": self.provisioned,
            "skipped": self.skipped,
            "providers": self.providers,
            "seed": self.seed,
            "alarm_transitions": self.transitions,
            "invocations": self.invocations,
            "caveats": self.all_caveats(),
        }

    def lines(self) -> list[str]:
        answers = ", ".join(f"{status} x{len(list(run))}" for status, run in groupby(self.api_statuses))
        lines = [
            "",
            f"## rehearsal notes (offline: moto and local stand-ins, not AWS) — {self.seconds:.1f}s in all",
            f"moto       {self.moto_endpoint} (in this process; stopped on exit)",
            f"API        {self.api_url} stands in for {self.deployed_endpoint}",
            f"answers    {answers or 'none'}",
            f"time       {self.time_compression}",
            f"metrics    {self.metrics}",
            f"replica    {self.provisioned} resources provisioned into moto from __main__.py (stack {self.stack}); "
            f"{len(self.skipped)} skipped",
            *[f"skipped    {s['type']} {s['name']}: {s['reason']}" for s in self.skipped],
            *map(provider_line, self.providers),
            f"seed       {self.seed.get('status')}: {len(self.seed.get('keys') or [])} images"
            + (f" ({self.seed.get('reason')})" if self.seed.get("reason") else ""),
            f"functions  {', '.join(f'{name} x{count}' for name, count in self.invocations.items())} invocations",
        ]
        if self.transitions:
            lines.append(
                "alarms     each change below is timed from the start of the alarm evaluator, after provisioning"
            )
        for change in self.transitions:
            lines.append(f"alarm      +{change['seconds']:.1f}s {change['alarm']}: {change['old']} -> {change['new']}")
            lines += [f"  action   {action}" for action in change["actions"]]
        lines += [f"caveat     {text}" for text in self.all_caveats()]
        return lines


def provider_line(provider: dict[str, Any]) -> str:
    tags = ", ".join(f"{k}={v}" for k, v in provider["default_tags"].items())
    count = provider.get("tagged", 0)
    where = (
        f"merged into the {count} taggable resource{'' if count == 1 else 's'} it manages here"
        if count
        else "no taggable resource it manages is provisioned here"
    )
    applied = f"default tags {tags}, {where}" if tags else "no default tags"
    return f"provider   {provider['name']} (region {provider['region'] or 'not set'}): {applied}"


def seed_result(raw: Any) -> dict[str, Any]:
    """ImageSeedResult as a dict (the Invocation's result is JSON text)."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {"status": "unknown", "raw": str(raw)}
    return value if isinstance(value, dict) else {"status": "unknown", "raw": str(raw)}
