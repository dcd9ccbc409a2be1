"""API requests, 4XX/5XX and image-function error, throttle and invocation counts in the window."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import RECENT_MINUTES, Evidence, iso

SOURCE = "metrics"
SYMPTOM_METRICS = frozenset({"api_5xx", "api_4xx", "fn_errors", "fn_throttles"})
MAX_POINTS = 1440  # per metric; GetMetricData answers at most 100,800 datapoints per call


def period_seconds(scope: Scope) -> int:
    """One-minute resolution for short windows, coarser (a multiple of 60 s) for long ones."""
    seconds = (scope.window.end - scope.window.start).total_seconds()
    return max(60, math.ceil(seconds / MAX_POINTS / 60) * 60)


def queries(scope: Scope) -> dict[str, tuple[str, str, dict[str, str], str]]:
    """Query id -> (namespace, metric, dimensions, label). The first dimension names the resource."""
    target = scope.target
    found: dict[str, tuple[str, str, dict[str, str], str]] = {}
    if target.api_name:
        api = {"ApiName": target.api_name, "Stage": target.api_stage}
        found["api_5xx"] = ("AWS/ApiGateway", "5XXError", api, f"API {target.api_name}/{target.api_stage} 5XX")
        found["api_4xx"] = ("AWS/ApiGateway", "4XXError", api, f"API {target.api_name}/{target.api_stage} 4XX")
        # Count: all requests, so a 4XX or 5XX total can be read as a share of the traffic.
        found["api_count"] = ("AWS/ApiGateway", "Count", api, f"API {target.api_name}/{target.api_stage} requests")
    function = {"FunctionName": target.function_name}
    found["fn_errors"] = ("AWS/Lambda", "Errors", function, f"function {target.function_name} errors")
    found["fn_throttles"] = ("AWS/Lambda", "Throttles", function, f"function {target.function_name} throttles")
    found["fn_invocations"] = ("AWS/Lambda", "Invocations", function, f"function {target.function_name} invocations")
    return found


def resource(dims: dict[str, str]) -> str:
    """`api-name/stage` for API metrics, the function's name for Lambda's."""
    if "ApiName" in dims:
        return f"{dims['ApiName']}/{dims.get('Stage', '')}".rstrip("/")
    return dims.get("FunctionName", "")


def collect(scope: Scope) -> list[Evidence]:
    out = EvidenceList(SOURCE, scope)
    wanted = queries(scope)
    period = period_seconds(scope)
    response = scope.clients.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": query_id,
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": metric,
                        "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                    },
                    "Period": period,
                    "Stat": "Sum",
                },
            }
            for query_id, (namespace, metric, dims, _) in wanted.items()
        ],
        StartTime=scope.window.start,
        EndTime=scope.window.end,
    )
    results = {r["Id"]: r for r in response["MetricDataResults"]}
    for query_id, (namespace, metric, dims, label) in wanted.items():
        result = results.get(query_id, {})
        points = sorted(
            (t, v) for t, v in zip(result.get("Timestamps", []), result.get("Values", []), strict=False) if v > 0
        )
        total = sum(v for _, v in points)
        first: datetime | None = points[0][0] if points else None
        last: datetime | None = points[-1][0] if points else None
        # The last minutes tell a current fault from one that is over (RECENT_MINUTES).
        recent = sum(v for t, v in points if t >= scope.now - timedelta(minutes=RECENT_MINUTES))
        is_symptom = query_id in SYMPTOM_METRICS
        out.add(
            f"{label}: {total:g} in the window ({namespace} {metric} Sum)"
            + (f", first at {iso(first)}" if first else "")
            + (f", last at {iso(last)}; {recent:g} in the last {RECENT_MINUTES} minutes" if last else ""),
            {
                "metric": query_id,
                "sum": total,
                "recent": recent,
                "first": iso(first) if first else None,
                "last": iso(last + timedelta(seconds=period)) if last else None,  # the end of its period
                "resource": resource(dims),
            },
            time=first,
            event=f"first {label} datapoint ({total:g} in the window)" if first and is_symptom else None,
        )
    return out.items
