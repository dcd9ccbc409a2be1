"""investigate(): collect evidence, rank hypotheses, draw conclusions. No printing, no arguments parsing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from time import perf_counter

from drill.aws import Clients
from drill.investigator.collectors import COLLECTORS, collect_timed, drift
from drill.investigator.collectors._base import Collector, Scope
from drill.investigator.conclusions import caveats, client_errors, impact_path, resource_tags, shares, timeline
from drill.investigator.declared import Declared
from drill.investigator.model import RECENT_MINUTES, Evidence, Hypothesis, Report, Status, Target, Window
from drill.investigator.ranking import conclude
from drill.investigator.recovery import Probe, incident, needs_probe, probe_evidence, probes_needed
from drill.investigator.remediation import remediation

DEFAULT_SINCE_MINUTES = 30


def _probe_if_needed(
    evidence: list[Evidence], root: Hypothesis | None, probe: Probe | None, window: Window, notes: list[str]
) -> bool:
    """Probe the API when the symptoms are past and nothing shows whether requests succeed now."""
    if (root is not None and root.kind != "unknown") or not needs_probe(evidence, window.end):
        return False
    if probe is None:
        notes.append(
            f"The symptoms stopped, but there was no API request in the last {RECENT_MINUTES} minutes and no "
            "probe was available: whether the incident is over is not known."
        )
        return False
    evidence.append(probe_evidence(probe, probes_needed(evidence), window.end))
    return True


def investigate(
    clients: Clients,
    target: Target,
    *,
    since_minutes: float = DEFAULT_SINCE_MINUTES,
    now: datetime | None = None,
    collectors: Sequence[tuple[str, Collector]] = COLLECTORS,
    probe: Probe | None = None,
    declared: Declared | None = None,
) -> Report:
    """`probe` (one GET of the API: its status) is used only when the symptoms are past and there is no
    recent traffic; its requests are listed as evidence (source `probe`). With `declared` (the stack's
    declared state) the function's configuration is compared with it too (source `drift`)."""
    window = Window.last(since_minutes, now or datetime.now(UTC))
    start = perf_counter()
    if declared is not None:
        collectors = [*collectors, (drift.SOURCE, drift.collect)]
    scope = Scope(clients=clients, target=target, window=window, declared=declared)
    evidence, sources = collect_timed(scope, collectors)
    root, hypotheses = conclude(evidence)
    notes: list[str] = [f"Declared state compared: {declared.source}."] if declared is not None else []
    if _probe_if_needed(evidence, root, probe, window, notes):
        root, hypotheses = conclude(evidence)
    seconds = round(perf_counter() - start, 3)
    over = incident(evidence, root, window)
    status: Status = "recovered" if over else "fault" if root else "healthy"
    if over:  # no cause holds: what is left are the weak hypotheses, not the `unknown` placeholders
        root, hypotheses = None, [h for h in hypotheses if h.kind != "unknown"]
    if status == "healthy" and (note := client_errors(evidence)):
        notes.append(note)
    return Report(
        status=status,
        root_cause=root,
        hypotheses=tuple(hypotheses),
        evidence=tuple(evidence),
        impact_path=tuple(impact_path(root, evidence, target)) if root else (),
        timeline=tuple(timeline(evidence, window)),
        remediation=tuple(remediation(root, evidence, target)) if root else (),
        target=target,
        window=window,
        notes=tuple(caveats(evidence, target)) + tuple(notes),
        sources=tuple(sources),
        tags=tuple(resource_tags(evidence)),
        seconds=seconds,
        incident=over,
        shares=tuple(shares(evidence)),
    )
