"""Time: is an incident still going on, or is it over? Reads evidence only.

An incident is over (`recovered`) only when all of these hold:
- there were symptoms in the window (`Evidences.symptoms`);
- none of them is current: no 5XX/errors/latency alarm in ALARM, no failing datapoint, error line,
  access-log 5XX or risen latency period in the last RECENT_MINUTES, no failing probe. A partial failure
  counts like a full one: one failing datapoint among many successful requests is current;
- requests succeed now: API requests in the last RECENT_MINUTES (Count datapoints or access-log lines)
  without failures, or probes the investigator sent answered 200. No recent traffic is not recovery (the
  5XX alarm returns to OK on missing data), so then the API is probed (`needs_probe`), with more probes
  after a partial failure (`probes_needed`);
- and no cause holds now (the caller passes the root cause it found: a real one means a current fault).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from drill.investigator.evidences import FAILURE_METRICS, Evidences
from drill.investigator.model import RECENT_MINUTES, Evidence, Hypothesis, Incident, Window, iso

PROBES = 3  # requests sent when there is no recent traffic: all must answer 200
# A partial failure (a share s of the requests) passes n probes with probability (1 - s)^n: three probes miss a
# 20% error rate half the time. So after a partial failure the investigator sends enough that a share still
# failing fails one of them with 1 - PROBE_MISS probability (14 for 20%), at most MAX_PROBES.
PROBE_MISS, MAX_PROBES = 0.05, 20
Probe = Callable[[], int | None]  # one GET of the API: its HTTP status, None when nothing answered
AROUND = timedelta(minutes=10)  # changes this long before the incident (or after it) may be its cause


def _recent(value: str | None, now: datetime) -> bool:
    return bool(value) and value >= iso(now - timedelta(minutes=RECENT_MINUTES))


def current_symptoms(ev: Evidences, now: datetime) -> list[Evidence]:
    """The symptoms that hold now (see the module docstring)."""
    throttled = bool(ev.throttling())
    failing = FAILURE_METRICS | ({"api_4xx"} if throttled else set())
    found = [
        e
        for e in ev.of("alarms")
        if e.facts.get("state") == "ALARM" and e.facts.get("purpose") in ("api_5xx", "errors")
    ]
    found += [e for e in ev.of("metrics") if e.facts.get("metric") in failing and e.facts.get("recent", 0) > 0]
    found += [e for e in ev.of("logs") if e.facts.get("error_code") and _recent(e.facts.get("last"), now)]
    found += [
        e
        for e in ev.of("access_logs")
        if e.facts.get("recent_5xx", 0) > 0 or (throttled and e.facts.get("recent_429", 0) > 0)
    ]
    # Latency: the alarm in ALARM (above), or risen periods in the last minutes: slow answers are not recovery.
    found += [e for e in ev.latency() if e.source == "alarms" or e.facts.get("recent", 0) > 0]
    return found + [e for e in ev.of("probe") if e.facts.get("failing", 0) > 0]


def recent_traffic(ev: Evidences) -> list[Evidence]:
    """Evidence of API requests in the last RECENT_MINUTES (successful ones unless `current_symptoms`)."""
    counted = [e for e in ev.of("metrics") if e.facts.get("metric") == "api_count" and e.facts.get("recent", 0) > 0]
    return counted + [e for e in ev.of("access_logs") if e.facts.get("recent", 0) > 0]


def succeeding_probes(ev: Evidences) -> list[Evidence]:
    return [e for e in ev.of("probe") if e.facts.get("sent", 0) and e.facts.get("ok") == e.facts.get("sent")]


def probes_needed(evidence: Sequence[Evidence]) -> int:
    """PROBES, or more after a partial failure: its share from the API's 5XX of Count, else the function's
    Errors of its Invocations, in the window."""
    ev = Evidences(tuple(evidence))

    def total(metric: str) -> float:
        return sum(float(e.facts.get("sum") or 0) for e in ev.metric(metric))

    failing, requests = total("api_5xx"), total("api_count")
    if not requests:
        failing, requests = total("fn_errors"), total("fn_invocations")
    share = failing / requests if requests else 1.0
    if not 0 < share < 1:
        return PROBES
    return min(MAX_PROBES, max(PROBES, math.ceil(math.log(PROBE_MISS) / math.log(1 - share))))


def needs_probe(evidence: Sequence[Evidence], now: datetime) -> bool:
    """Past symptoms, none current, and no recent request to tell whether the API works now."""
    ev = Evidences(tuple(evidence))
    return bool(ev.symptoms()) and not current_symptoms(ev, now) and not recent_traffic(ev)


def probe_evidence(probe: Probe, count: int, now: datetime) -> Evidence:
    """Send `count` requests; one item with their statuses (the probes are the investigator's own)."""
    statuses = [probe() for _ in range(count)]
    ok = sum(1 for s in statuses if s == 200)
    failing = sum(1 for s in statuses if s is not None and s >= 500)
    shown = ", ".join("no answer" if s is None else str(s) for s in statuses)
    return Evidence(
        id="probe-1",
        source="probe",
        time=iso(now),
        detail=f"no API request in the last {RECENT_MINUTES} minutes, so the investigator sent {count}: {shown}",
        facts={"sent": count, "ok": ok, "failing": failing, "statuses": statuses},
    )


def _span(symptoms: Sequence[Evidence]) -> tuple[str, str]:
    firsts = [str(e.facts.get("first") or e.time) for e in symptoms]
    lasts = [str(e.facts.get("last") or e.facts.get("first") or e.time) for e in symptoms]
    return min(firsts), max(lasts)


def _changes_around(ev: Evidences, start: str, end: str) -> list[Evidence]:
    low = iso(datetime.fromisoformat(start.replace("Z", "+00:00")) - AROUND)
    high = iso(datetime.fromisoformat(end.replace("Z", "+00:00")) + AROUND)
    return [
        e
        for e in ev.of("cloudtrail")
        if e.facts.get("changed_at") and not e.facts.get("harmless") and low <= e.facts["changed_at"] <= high
    ]


def incident(evidence: Sequence[Evidence], root: Hypothesis | None, window: Window) -> Incident | None:
    """The incident that is over, or None (no symptoms, a current one, a cause that holds, no proof)."""
    if root is not None and root.kind != "unknown":
        return None
    ev = Evidences(tuple(evidence))
    past = ev.symptoms()
    if not past or current_symptoms(ev, window.end):
        return None
    recovery = recent_traffic(ev) or succeeding_probes(ev)
    if not recovery:
        return None
    start, end = _span(past)
    changes = _changes_around(ev, start, end)
    # A past cause is named only from what shows it: the changes CloudTrail saw around the incident.
    around = (
        "; changes around it (CloudTrail): " + "; ".join(f"{e.time} {e.detail}" for e in changes)
        if changes
        else "; no change around it is known, so its cause is not named"
    )
    summary = (
        f"Symptoms from {start} to {end} ({'; '.join(e.detail for e in past[:3])}) have stopped: "
        + "; ".join(e.detail for e in recovery)
        + f"; no cause holds now{around}."
    )
    ids = tuple(e.id for e in [*past, *changes])
    return Incident(start, end, ids, tuple(e.id for e in recovery), summary)
