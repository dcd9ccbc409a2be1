"""investigate(): collect evidence, rank hypotheses, draw conclusions. No printing, no arguments parsing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from drill.aws import Clients
from drill.investigator.collectors import COLLECTORS, collect_all
from drill.investigator.collectors._base import Collector, Scope
from drill.investigator.conclusions import caveats, impact_path, remediation, timeline
from drill.investigator.model import Report, Target, Window
from drill.investigator.ranking import rank, root_cause

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
    evidence = collect_all(Scope(clients=clients, target=target, window=window), collectors)
    hypotheses = rank(evidence)
    root = root_cause(hypotheses)
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
        notes=tuple(caveats(evidence)),
    )
