"""The one alarm shape this stack uses: a metric's Sum reached a threshold within one period.

The invocations alarm (the drill's trigger), the API 5XX alarm and the image function's Errors alarm all
count events of a one-minute metric, and `python -m drill` reads them the same way (how many invocations
trip the alarm, when re-arming is safe), so they are declared in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]


def count_alarm(
    resource_name: str,
    metric: Metric,
    *,
    alarm_name: str,
    description: pulumi.Input[str],
    period_seconds: int,
    threshold: int = 1,
    actions: Sequence[pulumi.Input[str]] = (),
    armed: bool = True,
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """ALARM when the metric's Sum over one period is `threshold` or more; OK when nothing happened."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=description,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        statistic="Sum",
        threshold=threshold,
        period=period_seconds,
        evaluation_periods=1,
        comparison_operator="GreaterThanOrEqualToThreshold",
        # No traffic is not an incident: the alarm returns to OK instead of INSUFFICIENT_DATA.
        treat_missing_data="notBreaching",
        alarm_actions=list(actions),
        actions_enabled=armed,
        opts=opts,
    )


def percentile_alarm(
    resource_name: str,
    metric: Metric,
    *,
    alarm_name: str,
    description: pulumi.Input[str],
    percentile: str,
    threshold: float,
    actions: Sequence[pulumi.Input[str]] = (),
    opts: pulumi.ResourceOptions,
) -> aws.cloudwatch.MetricAlarm:
    """ALARM when a one-minute percentile (e.g. "p99") stays above `threshold` in 2 of the last 3 minutes.

    One minute: API Gateway Latency and Lambda Duration are one-minute metrics. 2 of 3: at a few requests a
    minute the p99 is the slowest request, so a single cold start would otherwise raise an incident.
    """
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        name=alarm_name,
        alarm_description=description,
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        extended_statistic=percentile,
        threshold=threshold,
        period=60,
        evaluation_periods=3,
        datapoints_to_alarm=2,
        comparison_operator="GreaterThanThreshold",
        treat_missing_data="notBreaching",  # no traffic is not slow traffic
        alarm_actions=list(actions),
        opts=opts,
    )
