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
open period is evaluated too, on every tick.

Three forms of alarm, as the program declares them:
- a statistic (Sum, Average, ...): moto's get_metric_statistics over the period;
- a percentile (ExtendedStatistic "p99", the latency alarm): moto accepts the alarm but computes no percentile,
  so the evaluator computes it from the period's raw datapoints (the ones the runtime and the local API put),
  by the nearest-rank rule;
- metric math (Metrics, the FIS guards): each metric query's statistic per period, then the one expression
  that returns data, evaluated here. Only what the program uses is supported: numbers, query ids, + - * /,
  comparisons, IF(condition, a, b) and FILL(query, value); anything else is an error the notes report.
  A missing operand makes the result missing (no datapoint for that period), as in CloudWatch.

A state someone else set (`SetAlarmState`, as the game day's seed scenario does) runs the actions too, as
CloudWatch runs them on any change of state; the evaluator finds it as a state it did not leave there
and evaluates the alarm again from the next tick.
"""

from __future__ import annotations

import ast
import json
import math
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


ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: lambda a, b: a / b if b else math.nan,  # CloudWatch: division by zero gives no value
}
RELATIONS: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.GtE: operator.ge,
    ast.Gt: operator.gt,
    ast.LtE: operator.le,
    ast.Lt: operator.lt,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
Samples = Callable[[dict[str, Any], datetime, datetime], list[float]]  # (metric, start, end) -> raw values


class UnsupportedExpression(ValueError):
    """A metric-math expression outside the subset the program uses."""


def percentile(values: list[float], rank: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least `rank` % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    position = max(1, math.ceil(rank / 100 * len(ordered)))
    return ordered[min(position, len(ordered)) - 1]


def percentile_rank(extended_statistic: str) -> float:
    """ "p99" -> 99.0, "p99.9" -> 99.9 (the only extended statistics supported: percentiles, not tm/wm/pr)."""
    if not extended_statistic.startswith("p"):
        raise UnsupportedExpression(f"extended statistic {extended_statistic}: only percentiles (pNN) are evaluated")
    return float(extended_statistic[1:])


def evaluate_expression(expression: str, values: dict[str, float | None]) -> float | None:
    """The value of a metric-math `expression` for one period; `values` holds each query's value (None: missing).

    CloudWatch's syntax for this subset is Python's expression syntax, so it is parsed with `ast` and walked
    over a whitelist: nothing is executed.
    """
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as err:
        raise UnsupportedExpression(f"metric math {expression!r}: {err.msg}") from None

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise UnsupportedExpression(f"metric math {expression!r}: no query with id {node.id}")
            return values[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operand = walk(node.operand)
            return None if operand is None else -operand
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
            left, right = walk(node.left), walk(node.right)
            if left is None or right is None:
                return None
            result = ARITHMETIC[type(node.op)](left, right)
            return None if math.isnan(result) else result
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in RELATIONS:
            left, right = walk(node.left), walk(node.comparators[0])
            if left is None or right is None:
                return None
            return float(RELATIONS[type(node.ops[0])](left, right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            return call(node.func.id, node.args)
        raise UnsupportedExpression(f"metric math {expression!r}: {ast.unparse(node)} is not supported offline")

    def call(function: str, arguments: list[ast.expr]) -> float | None:
        if function == "IF" and len(arguments) == 3:
            condition = walk(arguments[0])
            if condition is None:
                return None
            return walk(arguments[1]) if condition != 0 else walk(arguments[2])
        if function == "FILL" and len(arguments) == 2:
            value = walk(arguments[0])
            return walk(arguments[1]) if value is None else value
        raise UnsupportedExpression(f"metric math {expression!r}: {function}() with {len(arguments)} arguments")

    return walk(tree)


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
            "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": event_metrics(alarm)},
        },
    }


def event_metric(metric: dict[str, Any]) -> dict[str, Any]:
    return {
        "namespace": metric.get("Namespace"),
        "name": metric.get("MetricName"),
        "dimensions": {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
    }


def event_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The alarm's metrics as the alarm-action event lists them: its one metric, or each metric-math query."""
    if alarm.get("Metrics"):
        queries = []
        for query in alarm["Metrics"]:
            entry: dict[str, Any] = {"id": query["Id"], "returnData": bool(query.get("ReturnData", True))}
            if query.get("Expression"):
                entry |= {"expression": query["Expression"], "label": query.get("Label", "")}
            if query.get("MetricStat"):
                stat = query["MetricStat"]
                entry["metricStat"] = {
                    "metric": event_metric(stat["Metric"]),
                    "period": stat.get("Period"),
                    "stat": stat.get("Stat"),
                }
            queries.append(entry)
        return queries
    stat = alarm.get("Statistic") or alarm.get("ExtendedStatistic")
    return [
        {
            "id": "m1",
            "metricStat": {"metric": event_metric(alarm), "period": alarm.get("Period"), "stat": stat},
            "returnData": True,
        }
    ]


def alarm_period(alarm: dict[str, Any]) -> int:
    """The period the alarm evaluates: its own, or (metric math) its metric queries' period."""
    if alarm.get("Period"):
        return int(alarm["Period"])
    return min(int(q["MetricStat"]["Period"]) for q in alarm.get("Metrics", []) if q.get("MetricStat"))


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def moto_samples(account: str, region: str) -> Samples:
    """The raw values put to a metric in [start, end), read from moto's backend (the server runs in this process):
    what a percentile is computed from. Whole seconds, as moto's get_metric_statistics compares them."""

    def samples(metric: dict[str, Any], start: datetime, end: datetime) -> list[float]:
        from moto.cloudwatch.models import MetricDatum, cloudwatch_backends

        low, high = as_utc(start.replace(microsecond=0)), as_utc(end.replace(microsecond=0))
        wanted = metric.get("Dimensions", [])
        return [
            datum.value
            for datum in list(cloudwatch_backends[account][region].get_all_metrics())
            if isinstance(datum, MetricDatum)
            and datum.namespace == metric["Namespace"]
            and datum.name == metric["MetricName"]
            and low <= as_utc(datum.timestamp) < high
            and datum.filter(None, None, wanted)
        ]

    return samples


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
        samples: Samples | None = None,  # a metric's raw values in a window, for percentiles (a seam)
    ) -> None:
        self.alarm_names, self.runtime = alarm_names, runtime
        self.samples = samples or moto_samples(account, region)
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
        return alarm_period(alarm) / 60 * self.minute

    def window_values(self, alarm: dict[str, Any], now: datetime) -> list[float | None]:
        """The alarm's value in each of its last EvaluationPeriods periods, the current one last.

        Periods are aligned to multiples of their (compressed) length, as CloudWatch aligns them to the
        minute, so the drill's re-arm rule, which reads the same aligned periods, agrees with this decision.
        """
        span = self.span(alarm)
        stamp = now.timestamp()
        current = datetime.fromtimestamp(stamp - stamp % span, UTC)
        values: list[float | None] = []
        for back in reversed(range(int(alarm.get("EvaluationPeriods") or 1))):
            start = current - timedelta(seconds=back * span)
            values.append(self.period_value(alarm, start, start + timedelta(seconds=span)))
        return values

    def period_value(self, alarm: dict[str, Any], start: datetime, end: datetime) -> float | None:
        if alarm.get("Metrics"):
            return self.math_value(alarm["Metrics"], start, end)
        if alarm.get("ExtendedStatistic"):
            return percentile(self.samples(alarm, start, end), percentile_rank(alarm["ExtendedStatistic"]))
        return self.statistic(alarm, int(alarm["Period"]), alarm["Statistic"], start, end)

    def statistic(
        self, metric: dict[str, Any], period: int, statistic: str, start: datetime, end: datetime
    ) -> float | None:
        if statistic.startswith("p"):  # a percentile inside a metric query
            return percentile(self.samples(metric, start, end), percentile_rank(statistic))
        found = self.cloudwatch.get_metric_statistics(
            Namespace=metric["Namespace"],
            MetricName=metric["MetricName"],
            Dimensions=metric.get("Dimensions", []),
            StartTime=start,
            EndTime=end,
            Period=period,
            Statistics=[statistic],
        )["Datapoints"]
        return statistic_value(found[-1] if found else None, statistic)

    def math_value(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> float | None:
        """The one expression that returns data, over the metric queries' values for this period."""
        values = {
            q["Id"]: self.statistic(
                q["MetricStat"]["Metric"], int(q["MetricStat"]["Period"]), q["MetricStat"]["Stat"], start, end
            )
            for q in queries
            if q.get("MetricStat")
        }
        returned = [q for q in queries if q.get("ReturnData", True) and q.get("Expression")]
        if len(returned) != 1:  # PutMetricAlarm takes exactly one query that returns data
            raise UnsupportedExpression(f"a metric-math alarm with {len(returned)} expressions returning data")
        return evaluate_expression(returned[0]["Expression"], values)

    def evaluate(self, alarm: dict[str, Any]) -> None:
        now = self.wall()
        if self.set_by_someone_else(alarm):
            return
        state, reason = next_state(alarm, self.window_values(alarm, now))
        # The reason is what the investigator shows as the alarm's evidence: it says the period was compressed.
        reason = f"{reason} (rehearsal: each {alarm_period(alarm)} s period lasts {self.span(alarm):g} s of wall time)"
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
