"""The stack's CloudWatch dashboard, as data: alarms, API and image-function metrics, recent error lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi


def dashboard_url(region: str, dashboard_name: pulumi.Input[str]) -> pulumi.Output[str]:
    return pulumi.Output.concat(
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/",
        dashboard_name,
    )


def dashboard_body(
    region: str,
    api_name: pulumi.Input[str],
    stage: str,
    function_name: pulumi.Input[str],
    function_log_group: pulumi.Input[str],
    alarm_arns: Sequence[pulumi.Input[str]],
    latency_alarm_ms: int | None = None,
) -> dict[str, Any]:
    """Widgets for one screen of the incident: alarm states, requests and errors, latency, the function."""
    api = ["ApiName", api_name, "Stage", stage]
    fn = ["FunctionName", function_name]

    def metrics(title: str, lines: list[list[Any]], threshold: dict[str, Any] | None = None) -> dict[str, Any]:
        properties = {"title": title, "region": region, "view": "timeSeries", "period": 60, "metrics": lines}
        if threshold:
            properties["annotations"] = {"horizontal": [threshold]}
        return {"type": "metric", "width": 12, "height": 6, "properties": properties}

    error_query = pulumi.Output.concat(
        "SOURCE '",
        function_log_group,
        "' | fields @timestamp, message, error_code, operation, bucket, requestId"
        " | filter level = 'ERROR' | sort @timestamp desc | limit 50",
    )
    widgets = [
        {
            "type": "alarm",
            "width": 24,
            "height": 3,
            "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
        },
        metrics(
            "API requests and errors",
            [
                ["AWS/ApiGateway", "Count", *api, {"stat": "Sum", "label": "Requests"}],
                ["AWS/ApiGateway", "5XXError", *api, {"stat": "Sum", "label": "5XX"}],
                ["AWS/ApiGateway", "4XXError", *api, {"stat": "Sum", "label": "4XX"}],
            ],
        ),
        metrics(
            "API latency (ms)",
            [
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p50", "label": "p50"}],
                ["AWS/ApiGateway", "Latency", *api, {"stat": "p99", "label": "p99"}],
            ],
            # The latency alarm's threshold, so the graph shows how close p99 is to raising an incident.
            {"label": "latency alarm", "value": latency_alarm_ms} if latency_alarm_ms is not None else None,
        ),
        metrics(
            "Image function invocations, errors and throttles",
            [
                ["AWS/Lambda", "Invocations", *fn, {"stat": "Sum"}],
                ["AWS/Lambda", "Errors", *fn, {"stat": "Sum"}],
                ["AWS/Lambda", "Throttles", *fn, {"stat": "Sum"}],
            ],
        ),
        metrics(
            "Image function duration (ms)",
            [
                ["AWS/Lambda", "Duration", *fn, {"stat": "Average", "label": "average"}],
                ["AWS/Lambda", "Duration", *fn, {"stat": "p99", "label": "p99"}],
            ],
        ),
        {
            "type": "log",
            "width": 24,
            "height": 6,
            "properties": {
                "title": "Recent image function errors",
                "region": region,
                "view": "table",
                "query": error_query,
            },
        },
    ]
    return {"widgets": widgets}
