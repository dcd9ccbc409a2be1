"""The drill's record: one DynamoDB item per active scenario, written before anything changes.

An item holds the scenario's name, the exact prior state of what it changes and the state it writes
(both JSON), the invocations alarm's arming it found, and when it was recorded (`sequence` orders restores,
newest first). The put is conditional on the item not existing, so the same scenario recorded twice (by
two processes, two operators, or a retry after a crash) keeps the first prior state: the only true one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from drill.aws import error_code
from drill.errors import DrillError, UsageError
from drill.outputs import RECORD_TABLE
from drill.steps.model import Drill

KEY = "scenario"  # the table's hash key (components/drill_support.py RECORD_KEY)


@dataclass(frozen=True)
class Record:
    scenario: str
    prior: Any  # the state before the change, exactly as read
    injected: Any  # the state the scenario writes
    armed: bool | None  # the invocations alarm's ActionsEnabled when it was recorded; None without the chain
    sequence: int  # nanoseconds since the epoch at recording: restores go newest first
    recorded_at: str

    def item(self) -> dict[str, Any]:
        return {
            KEY: {"S": self.scenario},
            "prior": {"S": json.dumps(self.prior, sort_keys=True)},
            "injected": {"S": json.dumps(self.injected, sort_keys=True)},
            "armed": {"NULL": True} if self.armed is None else {"BOOL": self.armed},
            "sequence": {"N": str(self.sequence)},
            "recorded_at": {"S": self.recorded_at},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Record:
        armed = item.get("armed", {"NULL": True})
        return cls(
            scenario=item[KEY]["S"],
            prior=json.loads(item["prior"]["S"]),
            injected=json.loads(item["injected"]["S"]),
            armed=None if "NULL" in armed else bool(armed["BOOL"]),
            sequence=int(item["sequence"]["N"]),
            recorded_at=item["recorded_at"]["S"],
        )


def new_record(scenario: str, prior: Any, injected: Any, armed: bool | None) -> Record:
    now = time.time_ns()
    stamp = datetime.fromtimestamp(now / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Record(scenario, prior, injected, armed, now, stamp)


def table_name(drill: Drill) -> str:
    name = drill.outputs.get(RECORD_TABLE)
    if not name:
        raise UsageError(
            f"stack output {RECORD_TABLE} is missing from {drill.outputs.origin}: this stack has no record store "
            "for the game day (deploy it with this version of the program)"
        )
    return name


def put_new(drill: Drill, record: Record) -> Record:
    """Write `record` unless the scenario is recorded already; the record that is in the store."""
    table = table_name(drill)
    try:
        drill.clients.client("dynamodb").put_item(
            TableName=table,
            Item=record.item(),
            # An alias, so the key never collides with a DynamoDB reserved word (developerguide/ReservedWords.html).
            ConditionExpression="attribute_not_exists(#key)",
            ExpressionAttributeNames={"#key": KEY},
        )
        return record
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
    found = get(drill, record.scenario)
    if found is None:  # deleted between our put and our read: someone restored it; record ours
        return put_new(drill, record)
    return found


def get(drill: Drill, scenario: str) -> Record | None:
    answer = drill.clients.client("dynamodb").get_item(
        TableName=table_name(drill), Key={KEY: {"S": scenario}}, ConsistentRead=True
    )
    return Record.from_item(answer["Item"]) if "Item" in answer else None


def all_records(drill: Drill) -> list[Record]:
    """Every active scenario, newest first."""
    client = drill.clients.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table_name(drill), "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted((Record.from_item(i) for i in items), key=lambda r: r.sequence, reverse=True)


def delete(drill: Drill, scenario: str) -> None:
    drill.clients.client("dynamodb").delete_item(TableName=table_name(drill), Key={KEY: {"S": scenario}})


def replace_injected(drill: Drill, record: Record) -> None:
    """Overwrite the recorded `injected` of `record` (a FIS scenario's experiment id, known only after the
    record), on condition the item is still the one written at `record.sequence`: a record restored and
    recorded anew meanwhile is never overwritten. DrillError when it is not."""
    try:
        drill.clients.client("dynamodb").put_item(
            TableName=table_name(drill),
            Item=record.item(),
            ConditionExpression="#seq = :seq",
            ExpressionAttributeNames={"#seq": "sequence"},
            ExpressionAttributeValues={":seq": {"N": str(record.sequence)}},
        )
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        raise DrillError(
            f"the record of {record.scenario} changed while it was injected (restored meanwhile?): run `restore`"
        ) from None
