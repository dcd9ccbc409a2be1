"""The report as JSON (machines) and as markdown (people): summary, root cause, impact path, timeline,
evidence, remediation."""

from __future__ import annotations

import json

from drill.investigator.model import Report
from drill.investigator.remediation import REMEDIATION_NOTES


def to_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: Report) -> str:
    target, root = report.target, report.root_cause
    unavailable = [e.source for e in report.evidence if not e.available]
    lines = [f"# Incident report: {target.prefix}", "", "## Summary", ""]
    if report.incident:
        lines.append(f"**Status: recovered.** {report.incident.summary}")
    elif root and root.kind == "unknown":
        lines.append(f"**Status: fault, root cause unknown.** {root.summary}")
    elif root:
        lines.append(f"**Status: fault.** {root.summary}")
    else:
        lines.append("**Status: healthy.** No evidence of a fault in the image service's resources.")
        if report.hypotheses:
            lines.append("Weak hypotheses (below 0.5 confidence) are listed under Root cause.")
    lines += [
        "",
        f"Window {report.window.start:%Y-%m-%d %H:%M}–{report.window.end:%H:%M} UTC; {len(report.evidence)} "
        f"evidence items from {len({e.source for e in report.evidence})} sources"
        + (f"; unavailable: {', '.join(unavailable)}." if unavailable else "."),
        "",
        "## Root cause",
        "",
    ]
    if root:
        trail_read = any(e.source == "cloudtrail" and e.available for e in report.evidence)
        unknown_actor = (
            "unknown (no matching CloudTrail event yet)" if trail_read else "unknown (CloudTrail unavailable)"
        )
        lines += [
            f"- Kind: `{root.kind}`",
            f"- Resource: `{root.resource}`",
            f"- Confidence: {root.confidence:.2f}",
            f"- Changed by: {root.actor or unknown_actor}",
            f"- Changed at: {root.changed_at or 'unknown'}",
            f"- Evidence: {', '.join(root.evidence)}",
        ]
    else:
        lines.append("None found.")
    others = [h for h in report.hypotheses if h is not root]
    if others:
        lines += ["", "Other hypotheses:", "", "| Kind | Resource | Confidence | Evidence |", "|---|---|---|---|"]
        lines += [f"| `{h.kind}` | `{h.resource}` | {h.confidence:.2f} | {', '.join(h.evidence)} |" for h in others]
    if report.shares:
        lines += ["", "Share of failing requests per source:", "", "| Source | Failing | Requests | Share | Counted |"]
        lines += ["|---|---|---|---|---|"]
        lines += [
            f"| {s.source} | {s.failing:g} | {'-' if s.requests is None else f'{s.requests:g}'} | "
            f"{'-' if s.share is None else f'{s.share:.0%}'} | {_cell(s.what)} |"
            for s in report.shares
        ]
    lines += ["", "## Impact path", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(report.impact_path, 1)] or ["No impact."]
    lines += ["", "## Timeline", "", "| Time (UTC) | Event |", "|---|---|"]
    lines += [f"| {t.time} | {_cell(t.event)} |" for t in report.timeline]
    lines += ["", "## Evidence", "", "| ID | Source | Time | Detail |", "|---|---|---|---|"]
    # Tags are evidence too (JSON lists them), but read better in their own table below.
    shown = [e for e in report.evidence if not (e.source == "tags" and report.tags and "tags" in e.facts)]
    lines += [f"| {e.id} | {e.source} | {e.time} | {_cell(e.detail)} |" for e in shown]
    if report.sources:
        slowest = max(report.sources, key=lambda s: s.seconds)
        lines += [
            "",
            f"Sources, read in parallel: {report.seconds or 0:.2f} s in all (slowest: {slowest.name}, "
            f"{slowest.seconds:.2f} s).",
            "",
            "| Source | Seconds | Read |",
            "|---|---|---|",
        ]
        lines += [f"| {s.name} | {s.seconds:.2f} | {'yes' if s.available else 'no'} |" for s in report.sources]
    if report.tags:
        lines += ["", "Tags found on the examined resources:", "", "| Resource | Tags | Missing |", "|---|---|---|"]
        lines += [
            f"| {t.kind} `{t.resource}` | {_cell(', '.join(f'{k}={v}' for k, v in sorted(t.tags.items())) or '-')} "
            f"| {', '.join(t.missing) or '-'} |"
            for t in report.tags
        ]
    lines += ["", "## Remediation", ""]
    if report.remediation:
        lines += ["```sh", *report.remediation, "```"]
        if root and root.kind in REMEDIATION_NOTES:
            lines += ["", REMEDIATION_NOTES[root.kind]]
    else:
        lines.append("Nothing to do.")
    if report.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
