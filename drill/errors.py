"""Errors the CLI turns into one line and an exit code."""

from __future__ import annotations


class DrillError(Exception):
    """A problem worth one clear line; `exit_code` 1 means the drill failed."""

    exit_code = 1


class UsageError(DrillError):
    """Something the operator must fix before anything can run (arguments, outputs, credentials)."""

    exit_code = 2


class FunctionFailed(DrillError):
    """A Lambda invocation that ran but failed (`FunctionError` set): the answer is its error payload."""

    def __init__(self, function: str, kind: str, payload: object) -> None:
        super().__init__(f"{function} failed ({kind}): {str(payload)[:200]}")
        self.function = function
        self.kind = kind
        self.payload = payload


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the drill cleans up exactly as it does after Ctrl-C."""
