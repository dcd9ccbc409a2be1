"""Errors the CLI turns into one line and an exit code."""

from __future__ import annotations


class DrillError(Exception):
    """A problem worth one clear line; `exit_code` 1 means the drill failed."""

    exit_code = 1


class UsageError(DrillError):
    """Something the operator must fix before anything can run (arguments, outputs, credentials)."""

    exit_code = 2
