"""Alarms that act: moto stores alarms but never evaluates them, so the rehearsal does.

Every tick the evaluator reads each alarm (describe_alarms, so state, ActionsEnabled and thresholds are
moto's), asks moto for the alarm's statistic over each of its last EvaluationPeriods periods
(get_metric_statistics on the metrics the runtime and the local API put), decides the state as
CloudWatch does (threshold and comparison, DatapointsToAlarm, TreatMissingData) and, on a change, sets
it (set_alarm_state) and runs the actions when they are enabled: a Lambda ARN runs that function's
handler through the runtime with the CloudWatch alarm-action event, if the function's resource policy
lets this alarm invoke it; an investigation group is reported as not available offline.

Time is compressed: `minute` seconds of wall time stand for 60 s of alarm period, and periods are aligned
to multiples of their compressed length (as CloudWatch aligns them to the minute); the current, still
open period is evaluated too, on every tick. Percentile statistics are not supported.

A state someone else set (`SetAlarmState`, as the game day's seed scenario does) runs the actions too, as
CloudWatch runs them on any change of state; the evaluator finds it as a state it did not leave there
and evaluates the alarm again from the next tick.
"""

from __future__ import annotations

import json
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from drill.rehearsal.runtime import LambdaRuntime

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
ALARM_PRINCIPAL = "lambda.alarms.cloudwatch.amazonaws.com"


def statistic_value(datapoint: dict[str, Any] | None, statistic: str) -> float | None:
    """The alarm's statistic from one get_metric_statistics datapoint; None when the period had no data."""
    if not datapoint or datapoint.get(statistic) is None:
        return None
    return float(datapoint[statistic])


def next_state(alarm: dict[str, Any], values: list[float | None]) -> tuple[str, str]:
    """CloudWatch's decision for `values` (the statistic per period, oldest first; None = missing data)."""
    compare, words = COMPARISONS[alarm["ComparisonOperator"]]
    threshold = float(alarm["Threshold"])
    needed = int(alarm.get("DatapointsToAlarm") or alarm.get("EvaluationPeriods") or 1)
    treat = alarm.get("TreatMissingData") or "missing"
    present = [v for v in values if v is not None]
    missing = len(values) - len(present)
    breaching = [v for v in present if compare(v, threshold)] + ([None] * missing if treat == "breaching" else [])
    if not present and treat in ("missing", "ignore"):
        if treat == "ignore":
            return alarm.get("StateValue", "INSUFFICIENT_DATA"), "Missing data ignored: state kept"
        return "INSUFFICIENT_DATA", f"Insufficient Data: {len(values)} datapoints were unknown."
    shown = ", ".join(f"{v:g}" for v in present) or "no data"
    counted = f"{len(breaching)} of the last {len(values)} datapoints [{shown}]"
    if len(breaching) >= needed:
        return "ALARM", f"Threshold Crossed: {counted} {words} the threshold ({threshold:g})."
    return "OK", f"Threshold not crossed: {counted} {words} the threshold ({threshold:g}); {needed} needed."


def cloudwatch_time(moment: datetime) -> str:
    """CloudWatch's timestamp format in alarm events: milliseconds and +0000."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def alarm_event(
    alarm: dict[str, Any], state: str, reason: str, now: datetime, account: str, region: str
) -> dict[str, Any]:
    """The event CloudWatch delivers to a Lambda alarm action."""
    previous_time = alarm.get("StateUpdatedTimestamp")
    metric = {
        "namespace": alarm.get("Namespace"),
        "name": alarm.get("MetricName"),
        "dimensions": {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])},
    }
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm["AlarmArn"],
        "accountId": account,
        "time": cloudwatch_time(now),
        "region": region,
        "alarmData": {
            "alarmName": alarm["AlarmName"],
            "state": {"value": state, "reason": reason, "timestamp": cloudwatch_time(now)},
            "previousState": {
                "value": alarm.get("StateValue", "INSUFFICIENT_DATA"),
                "reason": alarm.get("StateReason", ""),
                "timestamp": cloudwatch_time(previous_time)
                if isinstance(previous_time, datetime)
                else cloudwatch_time(now),
            },
            "configuration": {
                "description": alarm.get("AlarmDescription", ""),
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {"metric": metric, "period": alarm.get("Period"), "stat": alarm.get("Statistic")},
                        "returnData": True,
                    }
                ],
            },
        },
    }


@dataclass
class Transition:
    seconds: float  # since the evaluator started
    alarm: str
    old: str
    new: str
    reason: str
    actions: list[str]

    def to_json(self) -> dict[str, Any]:
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in vars(self).items()}


def mark(alarm: dict[str, Any]) -> tuple[str, Any]:
    """What tells one setting of an alarm's state from another: the state and when it was set."""
    return alarm["StateValue"], alarm.get("StateUpdatedTimestamp")


class AlarmEvaluator:
    def __init__(
        self,
        *,
        alarm_names: list[str],
        clients: dict[str, Any],
        runtime: LambdaRuntime,
        account: str,
        region: str,
        minute: float,
        tick: float,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),  # the time periods are read at (a seam)
    ) -> None:
        self.alarm_names, self.runtime = alarm_names, runtime
        self.cloudwatch, self.lambda_ = clients["cloudwatch"], clients["lambda"]
        self.account, self.region, self.minute, self.tick = account, region, minute, tick
        self.wall = wall
        self.transitions: list[Transition] = []
        self.errors: list[str] = []
        self.ticks = 0  # complete evaluations of every alarm so far
        self._ticked = threading.Condition()
        self._seen: dict[str, tuple[str, Any]] = {}  # each alarm's state and its update time, as last seen or set
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rehearsal-alarms", daemon=True)
        self._start = time.monotonic()

    def start(self) -> None:
        self._start = time.monotonic()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.tick):
            try:
                self.evaluate_all()
            except Exception as err:  # keep evaluating; the notes report what went wrong
                self.errors.append(f"{type(err).__name__}: {err}")
            with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait until a whole tick has begun and ended after this call: every alarm is then in the state its
        data gives, and no decision read before the call can overwrite a state someone sets afterwards."""
        with self._ticked:
            target = self.ticks + 2
            return self._ticked.wait_for(lambda: self.ticks >= target, timeout=timeout)

    def evaluate_all(self) -> None:
        for alarm in self.cloudwatch.describe_alarms(AlarmNames=self.alarm_names)["MetricAlarms"]:
            self.evaluate(alarm)

    def span(self, alarm: dict[str, Any]) -> float:
        """The wall-clock length of one of the alarm's (compressed) periods."""
        return int(alarm["Period"]) / 60 * self.minute

    def window_values(self, alarm: dict[str, Any], now: datetime) -> list[float | None]:
        """The statistic of each of the alarm's last EvaluationPeriods periods, the current one last.

        Periods are aligned to multiples of their (compressed) length, as CloudWatch aligns them to the
        minute, so the drill's re-arm rule, which reads the same aligned periods, agrees with this decision.
        """
        span = self.span(alarm)
        stamp = now.timestamp()
        current = datetime.fromtimestamp(stamp - stamp % span, UTC)
        values: list[float | None] = []
        for back in reversed(range(int(alarm.get("EvaluationPeriods") or 1))):
            start = current - timedelta(seconds=back * span)
            found = self.cloudwatch.get_metric_statistics(
                Namespace=alarm["Namespace"],
                MetricName=alarm["MetricName"],
                Dimensions=alarm.get("Dimensions", []),
                StartTime=start,
                EndTime=start + timedelta(seconds=span),
                Period=int(alarm["Period"]),
                Statistics=[alarm["Statistic"]],
            )["Datapoints"]
            values.append(statistic_value(found[-1] if found else None, alarm["Statistic"]))
        return values

    def evaluate(self, alarm: dict[str, Any]) -> None:
        now = self.wall()
        if self.set_by_someone_else(alarm):
            return
        state, reason = next_state(alarm, self.window_values(alarm, now))
        # The reason is what the investigator shows as the alarm's evidence: it says the period was compressed.
        reason = f"{reason} (rehearsal: each {int(alarm['Period'])} s period lasts {self.span(alarm):g} s of wall time)"
        if state == alarm["StateValue"]:
            return
        if self.set_by_someone_else(self.read(alarm["AlarmName"])):  # while the periods were read
            return
        self.cloudwatch.set_alarm_state(AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason)
        self._seen[alarm["AlarmName"]] = mark(self.read(alarm["AlarmName"]))
        self.act(alarm, state, reason, now)

    def read(self, name: str) -> dict[str, Any]:
        return self.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    def set_by_someone_else(self, alarm: dict[str, Any]) -> bool:
        """Whether the alarm's state was set since the evaluator last saw or set it (SetAlarmState: its update
        time moves even when the value is the one it had, as after the seed's OK-then-ALARM); its actions run."""
        seen = self._seen.setdefault(alarm["AlarmName"], mark(alarm))
        if seen == mark(alarm):
            return False
        self._seen[alarm["AlarmName"]] = mark(alarm)
        state = alarm["StateValue"]
        before = seen[0] if seen[0] != state else ("OK" if state == "ALARM" else "ALARM")  # a change happened between
        self.act({**alarm, "StateValue": before}, state, str(alarm.get("StateReason") or ""), self.wall())
        return True

    def act(self, alarm: dict[str, Any], state: str, reason: str, now: datetime) -> None:
        """Run the actions of the change from `alarm["StateValue"]` to `state`, and note the transition."""
        actions = {"ALARM": "AlarmActions", "OK": "OKActions"}.get(state, "InsufficientDataActions")
        done = []
        for action in alarm.get(actions, []):
            if not alarm.get("ActionsEnabled", True):
                done.append(f"{action}: not run (actions disabled)")
            else:
                done.append(self.run_action(action, alarm, state, reason, now))
        self.transitions.append(
            Transition(time.monotonic() - self._start, alarm["AlarmName"], alarm["StateValue"], state, reason, done)
        )

    def run_action(self, action: str, alarm: dict[str, Any], state: str, reason: str, now: datetime) -> str:
        if action.startswith("arn:aws:aiops:"):
            return f"{action}: investigation not started (CloudWatch investigations are not available offline)"
        if not action.startswith("arn:aws:lambda:"):
            return f"{action}: not run (the rehearsal runs Lambda actions only)"
        function = action.split(":")[6]
        if not self.alarm_may_invoke(function, alarm["AlarmArn"]):
            return f"{action}: refused (no permission for {ALARM_PRINCIPAL} with this alarm as source)"
        answer = self.runtime.invoke(function, alarm_event(alarm, state, reason, now, self.account, self.region))
        return f"{action}: ran {function}, which answered {json.dumps(answer)}"

    def alarm_may_invoke(self, function: str, alarm_arn: str) -> bool:
        """The function's resource policy lets CloudWatch alarms invoke it for this alarm (as Lambda checks)."""
        try:
            policy = json.loads(self.lambda_.get_policy(FunctionName=function)["Policy"])
        except ClientError:
            return False
        for statement in policy.get("Statement", []):
            principal = statement.get("Principal")
            service = principal.get("Service") if isinstance(principal, dict) else principal
            source = json.dumps(statement.get("Condition") or {})
            if statement.get("Effect") == "Allow" and service == ALARM_PRINCIPAL and f'"{alarm_arn}"' in source:
                return True
        return False
