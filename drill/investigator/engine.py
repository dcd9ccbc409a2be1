"""investigate(): collect evidence, rank hypotheses, draw conclusions. No printing, no arguments parsing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from time import perf_counter

from drill.aws import Clients
from drill.investigator.collectors import COLLECTORS, collect_timed
from drill.investigator.collectors._base import Collector, Scope
from drill.investigator.conclusions import caveats, impact_path, resource_tags, timeline
from drill.investigator.model import Report, Target, Window
from drill.investigator.ranking import conclude
from drill.investigator.remediation import remediation

DEFAULT_SINCE_MINUTES = 30


def investigate(
    clients: Clients,
    target: Target,
    *,
    since_minutes: float = DEFAULT_SINCE_MINUTES,
    now: datetime | None = None,
    collectors: Sequence[tuple[str, Collector]] = COLLECTORS,
) -> Report:
    window = Window.last(since_minutes, now or datetime.now(UTC))
    start = perf_counter()
    evidence, sources = collect_timed(Scope(clients=clients, target=target, window=window), collectors)
    seconds = round(perf_counter() - start, 3)
    root, hypotheses = conclude(evidence)
    return Report(
        status="fault" if root else "healthy",
        root_cause=root,
        hypotheses=tuple(hypotheses),
        evidence=tuple(evidence),
        impact_path=tuple(impact_path(root, evidence, target)) if root else (),
        timeline=tuple(timeline(evidence, window)),
        remediation=tuple(remediation(root, evidence, target)) if root else (),
        target=target,
        window=window,
        notes=tuple(caveats(evidence, target)),
        sources=tuple(sources),
        tags=tuple(resource_tags(evidence)),
        seconds=seconds,
    )
