"""Lambda's JSON log format for handlers run in process: one line per record, written to the function's group.

A function with `logging_config.log_format = "JSON"` gets lines like
`{"timestamp": "...Z", "level": "INFO", "message": "...", "logger": "root", "requestId": "...", <extra fields>}`;
exceptions add errorType, errorMessage and stackTrace. Records are kept per invocation (only those emitted on
the invoking thread) and written to CloudWatch Logs when the invocation ends, as Lambda's agent flushes them.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else came from `extra=` and becomes a top-level field.
STANDARD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def json_line(record: logging.LogRecord, request_id: str) -> str:
    line: dict[str, Any] = {
        "timestamp": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "requestId": request_id,
        **{k: v for k, v in vars(record).items() if k not in STANDARD_FIELDS},
    }
    if record.exc_info and record.exc_info[0] is not None:
        kind, error, trace = record.exc_info
        line.update(errorType=kind.__name__, errorMessage=str(error), stackTrace=traceback.format_tb(trace))
    return json.dumps(line, default=str)


class Capture:
    """The lines of one invocation."""

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.events: list[dict[str, Any]] = []

    def add(self, record: logging.LogRecord) -> None:
        self.events.append({"timestamp": int(record.created * 1000), "message": json_line(record, self.request_id)})


class LambdaLogHandler(logging.Handler):
    """Installed once on the root logger; records of threads not running a handler are not Lambda's."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self._current = threading.local()

    def begin(self, request_id: str) -> Capture:
        capture = Capture(request_id)
        self._current.capture = capture
        return capture

    def end(self) -> None:
        self._current.capture = None

    def emit(self, record: logging.LogRecord) -> None:
        capture = getattr(self._current, "capture", None)
        if capture is not None:
            capture.add(record)


def write(logs: Any, group: str, stream: str, capture: Capture) -> None:
    if capture.events:
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=capture.events)
