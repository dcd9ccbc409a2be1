"""The invocations alarm as the drill's safety catch: arm, disarm, and when re-arming is safe.

Re-arm rule: the alarm's actions are enabled again only when (1) its state is OK and (2) no period
that CloudWatch may still evaluate holds threshold-or-more invocations of the image function. The
periods it may still evaluate are the last EvaluationPeriods + 1 of the alarm's Period (its window,
plus one period because Lambda's metrics arrive up to a minute late). A period's count is the larger
of CloudWatch's Sum for it and the invocations this drill made in it (probes included), which covers
the calls CloudWatch has not published yet.
"""

from __future__ import annotations

import math
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

from drill import stack
from drill.errors import DrillError, UsageError
from drill.steps.model import Drill, StepResult


def alarm_states(drill: Drill, names: list[str]) -> dict[str, dict[str, Any]]:
    if not names:
        return {}
    found = drill.clients.cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return {a["AlarmName"]: a for a in found}


def invocations_alarm(drill: Drill) -> dict[str, Any]:
    name = drill.outputs.require(stack.INVOCATIONS_ALARM)
    found = alarm_states(drill, [name])
    if name not in found:
        raise DrillError(f"alarm {name} (output {stack.INVOCATIONS_ALARM}) does not exist")
    return found[name]


def invocations_needed(alarm: dict[str, Any]) -> int:
    """Invocations that make the Sum reach the alarm's threshold within one period."""
    threshold = float(alarm.get("Threshold", 1))
    if alarm.get("ComparisonOperator") == "GreaterThanThreshold":
        return max(1, math.floor(threshold) + 1)
    return max(1, math.ceil(threshold))


def set_actions(drill: Drill, enabled: bool) -> None:
    name = drill.outputs.require(stack.INVOCATIONS_ALARM)
    if enabled:
        drill.clients.cloudwatch.enable_alarm_actions(AlarmNames=[name])
    else:
        drill.clients.cloudwatch.disable_alarm_actions(AlarmNames=[name])


def arm_commands(drill: Drill) -> list[str]:
    """The drill's command and the aws CLI equivalent that arm the alarm again."""
    name = shlex.quote(drill.outputs.require(stack.INVOCATIONS_ALARM))
    aws = f"aws cloudwatch enable-alarm-actions --alarm-names {name}"
    return [drill.command_line("arm"), f"{aws} {drill.aws_cli_options}".rstrip()]


def _floor(moment: datetime, span: float) -> datetime:
    seconds = moment.timestamp()
    return datetime.fromtimestamp(seconds - seconds % span, UTC)


def pending_periods(drill: Drill, alarm: dict[str, Any]) -> list[tuple[datetime, float]]:
    """(period start, invocations) of every period the alarm may still evaluate that would breach it.

    Periods are aligned as CloudWatch aligns them, and each is read on its own (one Sum per request), so
    the same reading holds for periods that last another time than they say (`drill.period_length`).
    """
    period = int(alarm.get("Period") or 60)
    span = drill.period_length(period)
    dimensions = alarm.get("Dimensions") or [
        {"Name": "FunctionName", "Value": drill.outputs.require(stack.IMAGE_FUNCTION)}
    ]
    threshold = float(alarm.get("Threshold", 1))
    current = _floor(drill.wall(), span)
    breaching = []
    for back in range(int(alarm.get("EvaluationPeriods") or 1) + 1):
        start = current - timedelta(seconds=back * span)
        end = start + timedelta(seconds=span)
        answer = drill.clients.cloudwatch.get_metric_statistics(
            Namespace=alarm.get("Namespace") or "AWS/Lambda",
            MetricName=alarm.get("MetricName") or "Invocations",
            Dimensions=dimensions,
            StartTime=start,
            EndTime=end,
            Period=period,
            Statistics=["Sum"],
        )
        published = sum(float(point.get("Sum", 0.0)) for point in answer.get("Datapoints", []))
        own = sum(1 for moment in drill.invoked if start <= moment < end)
        count = max(published, float(own))
        if count >= threshold:
            breaching.append((start, count))
    return sorted(breaching)


def safe_to_arm(drill: Drill) -> tuple[bool, str]:
    """The re-arm rule (module docstring): (safe, why not / why)."""
    alarm = invocations_alarm(drill)
    if alarm["StateValue"] != "OK":
        return False, f"alarm is {alarm['StateValue']}, not OK"
    pending = pending_periods(drill, alarm)
    if pending:
        listed = ", ".join(f"{count:g} invocations in the period from {start:%H:%M:%S}Z" for start, count in pending)
        return False, f"not yet evaluated: {listed} (threshold {alarm['Threshold']:g})"
    return True, "alarm OK and no breaching period left to evaluate"


def arm_step(drill: Drill, *, enabled: bool) -> StepResult:
    """`python -m drill arm|disarm`: switch the invocations alarm's actions."""
    if not drill.outputs.get(stack.INVOCATIONS_ALARM):
        raise UsageError(f"stack output {stack.INVOCATIONS_ALARM} is absent: this stack has no fault chain to arm")
    start = drill.clock()
    before = invocations_alarm(drill)
    set_actions(drill, enabled)
    after = invocations_alarm(drill)
    name, word = after["AlarmName"], "armed" if enabled else "disarmed"
    if bool(after.get("ActionsEnabled")) != enabled:
        raise DrillError(f"alarm {name} still reports ActionsEnabled={after.get('ActionsEnabled')}")
    summary = (
        f"{name} {word} (was {'armed' if before.get('ActionsEnabled') else 'disarmed'}); state {after['StateValue']}"
    )
    lines = [
        summary,
        "its action runs the fault function on the next change to ALARM"
        if enabled
        else "its action will not run until it is armed again",
    ]
    data = {"alarm": name, "armed": enabled, "state": after["StateValue"]}
    return StepResult("arm" if enabled else "disarm", True, drill.clock() - start, summary, lines, data)
