"""Pure event checks of the fault injector: what an event asks for, and whether an alarm event may act.

An alarm action is delivered asynchronously (CloudWatch "Invoke a Lambda function from an alarm"), and
Lambda's asynchronous queue retries throttled and failed deliveries for up to 6 hours by default ("How
Lambda handles errors and retries with asynchronous invocation"). So an ALARM event acts only when it
comes from this function's own alarm (`alarmArn` equal to ALARM_ARN) and its state change
(`alarmData.state.timestamp`) is at most `max_age_seconds` old; anything else is answered `ignored` with a
reason. The maximum age is the FunctionEventInvokeConfig's: the component (components/fault_injection.py)
sets it in the environment variable MAX_EVENT_AGE_SECONDS, the one source of the figure.
"""

from __future__ import annotations

import math
from datetime import datetime

MAX_AGE_VARIABLE = "MAX_EVENT_AGE_SECONDS"
# Only when the variable is absent (a function deployed before the component set it); a test keeps it equal
# to the component's figure.
DEFAULT_MAX_EVENT_AGE_SECONDS = 300.0
MAX_CLOCK_SKEW_SECONDS = 60.0  # a state change this far "in the future" is still believed


def requested_action(event: object) -> tuple[str, str | None]:
    """("inject" | "restore" | "status", None), or ("ignored", why) for anything else."""
    if not isinstance(event, dict):
        return "ignored", f"malformed event: expected a JSON object, got {type(event).__name__}"
    if event.get("source") == "aws.cloudwatch":
        alarm = event.get("alarmData")
        state = alarm.get("state") if isinstance(alarm, dict) else None
        value = state.get("value") if isinstance(state, dict) else None
        if not isinstance(value, str):
            return "ignored", "malformed alarm event: no alarmData.state.value"
        if value != "ALARM":
            return "ignored", f"alarm state is {value}: only ALARM injects the fault"
        return "inject", None
    action = event.get("action")
    if action in ("restore", "status"):
        return action, None
    if "action" in event:
        return "ignored", f"unknown action {action!r}: expected 'restore' or 'status'"
    return "ignored", 'unrecognised event: expected a CloudWatch alarm event or {"action": "restore"|"status"}'


def max_event_age(value: str | None) -> tuple[float | None, str | None]:
    """(seconds, None) from the variable's text (the default when it is unset), or (None, why) when the text is
    not a positive, finite number of seconds: then no alarm event can be judged fresh, and none acts."""
    if value is None:
        return DEFAULT_MAX_EVENT_AGE_SECONDS, None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        return None, f"{MAX_AGE_VARIABLE}={value!r}: expected a positive number of seconds"
    return seconds, None


def arn_account(arn: str) -> str:
    """The account field of an ARN (arn:partition:service:region:account:resource), or "" if none."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def parse_timestamp(value: object) -> datetime | None:
    """A timezone-aware time from CloudWatch's "2025-01-01T12:00:00.000+0000" (or any ISO 8601 with offset)."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None  # a time without offset is ambiguous


def alarm_rejection(event: dict, alarm_arn: str, now: datetime, max_age_seconds: float) -> str | None:
    """Why an ALARM event must not act (another alarm or account, stale, from the future), or None."""
    source = event.get("alarmArn")
    if not isinstance(source, str) or not source:
        return "malformed alarm event: no alarmArn"
    if source != alarm_arn:
        account, own = arn_account(source), arn_account(alarm_arn)
        if account != own:
            return f"alarm {source} is in account {account or '?'}, not this function's account {own}"
        return f"alarm {source} is not this function's alarm {alarm_arn}"
    alarm = event.get("alarmData")
    state = alarm.get("state") if isinstance(alarm, dict) else None
    stamp = state.get("timestamp") if isinstance(state, dict) else None
    changed_at = parse_timestamp(stamp)
    if changed_at is None:
        return f"unusable alarmData.state.timestamp {stamp!r}: cannot tell the event's age"
    age = (now - changed_at).total_seconds()
    if age > max_age_seconds:
        limit = f"{max_age_seconds:.0f} s"
        return f"stale alarm event: the state changed {age:.0f} s ago (at {stamp}), more than {limit}"
    if age < -MAX_CLOCK_SKEW_SECONDS:
        return f"alarm event from the future: the state changes at {stamp}, {-age:.0f} s from now"
    return None
