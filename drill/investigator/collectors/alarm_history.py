"""State changes of the stack's alarms in the window (DescribeAlarmHistory)."""

from __future__ import annotations

import json

from drill.investigator.collectors._base import EvidenceList, Scope
from drill.investigator.model import Evidence

SOURCE = "alarm_history"


def to_state(item: dict) -> str | None:
    """The new state from HistoryData (JSON); None if it cannot be read."""
    try:
        return json.loads(item.get("HistoryData") or "{}").get("newState", {}).get("stateValue")
    except (json.JSONDecodeError, AttributeError):
        return None


def collect(scope: Scope) -> list[Evidence]:
    alarms, out = scope.target.alarms, EvidenceList(SOURCE, scope)
    cloudwatch = scope.clients.cloudwatch
    for purpose, name in alarms.items():
        items = cloudwatch.describe_alarm_history(
            AlarmName=name,
            HistoryItemType="StateUpdate",
            StartDate=scope.window.start,
            EndDate=scope.window.end,
            MaxRecords=50,
            ScanBy="TimestampAscending",
        )["AlarmHistoryItems"]
        for item in items:
            summary = item.get("HistorySummary", "state changed")
            out.add(
                f"{name}: {summary}",
                {"alarm": name, "purpose": purpose, "to_state": to_state(item)},
                time=item["Timestamp"],
                event=f"{name}: {summary}",
            )
    if not out.items:
        out.add("no alarm state changes in the window", {"alarm": None})
    return out.items
