"""Latency on the image path against its own baseline: API Gateway `Latency` and `IntegrationLatency`, and the
image function's `Duration`.

The rule (docs/investigator.md, "Latency"): per metric, the baseline is the median of its one-minute values in
the BASELINE_MINUTES before the investigated window (at least BASELINE_MIN_PERIODS of them, else there is no
baseline and only the latency alarm decides). A period of the window has *risen* when its value is above both
RISE_FACTOR times the baseline and the baseline plus RISE_MIN_MS; the metric has risen when RISE_PERIODS or more
periods of the window have. The value is the p99 where CloudWatch gives percentiles, else the Average (the
evidence says which): CloudWatch computes percentiles only from raw values, and moto ignores ExtendedStatistics.

GetMetricStatistics takes either Statistics or ExtendedStatistics, never both, so each metric costs two calls;
the six run side by side. https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricStatistics.html
"""

from __future__ import annotations

import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import RECENT_MINUTES, Evidence, iso

SOURCE = "latency"
PERCENTILE = "p99"  # what the stack's latency alarm reads (components/observability.py LATENCY_PERCENTILE)
BASELINE_MINUTES = 60
BASELINE_MIN_PERIODS = 5
RISE_FACTOR = 2.0
RISE_MIN_MS = 250.0  # below this a doubling is noise (a 40 ms function at 80 ms is not an incident)
RISE_PERIODS = 2  # one slow minute (a cold start) is not a rise; the alarm also wants 2 of 3
MAX_POINTS = 1440  # GetMetricStatistics answers at most 1,440 datapoints per call


@dataclass(frozen=True)
class Series:
    """One metric's per-period values: the percentile where CloudWatch gave one, else the Average."""

    values: dict[datetime, float]
    maxima: dict[datetime, float]
    statistic: str  # PERCENTILE or "Average"


def metrics(scope: Scope) -> dict[str, tuple[str, str, dict[str, str], str]]:
    """Query id -> (namespace, metric, dimensions, label)."""
    target = scope.target
    found: dict[str, tuple[str, str, dict[str, str], str]] = {}
    if target.api_name:
        api = {"ApiName": target.api_name, "Stage": target.api_stage}
        where = f"API {target.api_name}/{target.api_stage}"
        found["api_latency"] = ("AWS/ApiGateway", "Latency", api, f"{where} Latency")
        found["api_integration_latency"] = ("AWS/ApiGateway", "IntegrationLatency", api, f"{where} IntegrationLatency")
    function = {"FunctionName": target.function_name}
    found["fn_duration"] = ("AWS/Lambda", "Duration", function, f"function {target.function_name} Duration")
    return found


def period_seconds(start: datetime, end: datetime) -> int:
    return max(60, math.ceil((end - start).total_seconds() / MAX_POINTS / 60) * 60)


def read(scope: Scope, namespace: str, metric: str, dims: dict[str, str]) -> Series:
    start = scope.window.start - timedelta(minutes=BASELINE_MINUTES)
    kwargs: dict[str, Any] = {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
        "StartTime": start,
        "EndTime": scope.window.end,
        "Period": period_seconds(start, scope.window.end),
    }
    cloudwatch = scope.clients.cloudwatch
    plain = cloudwatch.get_metric_statistics(Statistics=["Average", "Maximum"], **kwargs)["Datapoints"]
    extended = cloudwatch.get_metric_statistics(ExtendedStatistics=[PERCENTILE], **kwargs)["Datapoints"]
    maxima = {p["Timestamp"]: float(p["Maximum"]) for p in plain if "Maximum" in p}
    percentiles = {
        p["Timestamp"]: float(p["ExtendedStatistics"][PERCENTILE])
        for p in extended
        if PERCENTILE in (p.get("ExtendedStatistics") or {})
    }
    if percentiles:
        return Series(percentiles, maxima, PERCENTILE)
    return Series({p["Timestamp"]: float(p["Average"]) for p in plain if "Average" in p}, maxima, "Average")


def threshold(baseline: float) -> float:
    """The value above which a period has risen."""
    return max(baseline * RISE_FACTOR, baseline + RISE_MIN_MS)


def judge(series: Series, scope: Scope) -> dict[str, Any]:
    """The rule's facts for one metric (see the module docstring)."""
    before = [v for t, v in series.values.items() if t < scope.window.start]
    during = sorted((t, v) for t, v in series.values.items() if t >= scope.window.start)
    facts: dict[str, Any] = {
        "statistic": series.statistic,
        "percentiles": series.statistic == PERCENTILE,
        "baseline_periods": len(before),
        "periods": len(during),
        "peak": max((v for _, v in during), default=None),
        "peak_maximum": max((v for t, v in series.maxima.items() if t >= scope.window.start), default=None),
    }
    if len(before) < BASELINE_MIN_PERIODS:
        return {**facts, "baseline": None, "threshold": None, "rise": False, "risen": 0, "recent": 0}
    baseline = statistics.median(before)
    limit = threshold(baseline)
    risen = [t for t, v in during if v > limit]
    recent = [t for t in risen if t >= scope.now - timedelta(minutes=RECENT_MINUTES)]
    return {
        **facts,
        "baseline": round(baseline, 1),
        "threshold": round(limit, 1),
        "risen": len(risen),
        "recent": len(recent),
        "rise": len(risen) >= RISE_PERIODS,
        "first": iso(risen[0]) if risen else None,
        "last": iso(risen[-1] + timedelta(minutes=1)) if risen else None,
    }


def describe(label: str, facts: dict[str, Any]) -> str:
    statistic = facts["statistic"]
    how = (
        f"{statistic} per minute"
        if facts["percentiles"]
        else f"Average per minute (CloudWatch gave no {PERCENTILE}: a mean hides a slow share, Maximum shown too)"
    )
    peak = "no datapoint in the window" if facts["peak"] is None else f"peak {facts['peak']:g} ms"
    if facts["peak_maximum"] is not None and not facts["percentiles"]:
        peak += f" (Maximum {facts['peak_maximum']:g} ms)"
    if facts["baseline"] is None:
        return (
            f"{label}: {peak}, {how}; no baseline ({facts['baseline_periods']} one-minute datapoints in the "
            f"{BASELINE_MINUTES} minutes before the window, {BASELINE_MIN_PERIODS} needed): a rise cannot be judged"
        )
    verdict = (
        f"risen in {facts['risen']} periods (first {facts['first']}; {facts['recent']} in the last {RECENT_MINUTES} "
        "minutes)"
        if facts["rise"]
        else f"not risen ({facts['risen']} period{'' if facts['risen'] == 1 else 's'} above it, {RISE_PERIODS} needed)"
    )
    return (
        f"{label}: {peak} against a baseline of {facts['baseline']:g} ms (median of the {BASELINE_MINUTES} minutes "
        f"before the window), threshold {facts['threshold']:g} ms; {verdict}; {how}"
    )


def collect(scope: Scope) -> list[Evidence]:
    out = EvidenceList(SOURCE, scope)
    wanted = metrics(scope)
    with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="latency") as pool:
        futures = {key: pool.submit(read, scope, ns, metric, dims) for key, (ns, metric, dims, _) in wanted.items()}
        series = {key: future.result() for key, future in futures.items()}
    for key, (_, _, dims, label) in wanted.items():
        facts = judge(series[key], scope)
        first = datetime.fromisoformat(facts["first"].replace("Z", "+00:00")) if facts.get("first") else None
        out.add(
            describe(label, facts),
            {**facts, "metric": key, "resource": dims.get("FunctionName") or f"{dims['ApiName']}/{dims['Stage']}"},
            time=first,
            event=f"{label} rises above {facts['threshold']:g} ms" if facts["rise"] else None,
        )
    return out.items
