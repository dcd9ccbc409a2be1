"""A scenario as data: what it is (the catalogue's columns) and how it reads, changes and puts back its resource.

A direct scenario's state is plain JSON data read from AWS: `read` returns the current state of exactly
what the scenario changes, `target` the state it writes (computed from the prior one before anything
changes, so the record can hold both), and `write(drill, current, wanted)` takes the resource from one
state to the other. Restore is then the same call with the two states the other way round.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from drill.aws import as_drill_error
from drill.steps.model import Drill

Mechanism = Literal["fault-function", "direct", "fis"]  # "fis": an experiment of the stack (scenarios/fis.py)
State = Any  # JSON data: dict, list, str, number, bool or None (absent)

# Test seam: `AIOPS_DRILL_PAUSE_AT=recorded|changed` makes `inject` stop (block) right after the record is
# written or right after the change (a FIS scenario: right after StartExperiment, before its id is in the
# record), so a test can kill -9 it exactly there. Nothing else reads it.
PAUSE_VARIABLE = "AIOPS_DRILL_PAUSE_AT"


AWS_ERRORS = (ClientError, BotoCoreError)


def same(left: State, right: State) -> bool:
    """Equal as JSON data (tuples are lists, 0 equals 0.0)."""
    return json.loads(json.dumps(left)) == json.loads(json.dumps(right))


def shown(state: State) -> str:
    text = json.dumps(state, sort_keys=True)
    return text if len(text) <= 300 else text[:297] + "..."


def shown_against(state: State, reference: State) -> str:
    """`state` as far as it differs from `reference`: for two objects only the fields that differ, so the
    fact that matters is never cut off by a long state (a parameter's tags, a policy's other statements)."""
    if not (isinstance(state, dict) and isinstance(reference, dict)):
        return shown(state)
    differing = {k: state.get(k) for k in sorted({*state, *reference}) if not same(state.get(k), reference.get(k))}
    return json.dumps(differing, sort_keys=True)


def describe_error(err: Exception) -> str:
    mapped = as_drill_error(err) if isinstance(err, AWS_ERRORS) else err
    return str(mapped or err)


def checkpoint(drill: Drill, point: str) -> None:
    drill.progress(f"checkpoint: {point}")
    if os.environ.get(PAUSE_VARIABLE) == point:
        drill.progress(f"paused at {point} ({PAUSE_VARIABLE})")
        threading.Event().wait()  # until the process is killed


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # the investigator's root-cause kind (drill/investigator/model.py RootCauseKind)
    resource: str  # what it changes, in words
    mechanism: Mechanism
    summary: str  # one line
    undo: str  # how restore undoes it
    calls: tuple[str, ...]  # the AWS API operations it makes ("service:Operation" as botocore names them)
    # Why the stack cannot run it (None when it can): a missing output, a stack without the fault chain.
    unavailable: Callable[[Drill], str | None] = field(default=lambda _drill: None)
    resource_name: Callable[[Drill], str] = field(default=lambda _drill: "")
    read: Callable[[Drill], State] | None = None
    target: Callable[[Drill, State], State] | None = None
    write: Callable[[Drill, State, State], None] | None = None

    def describe(self) -> dict[str, str]:
        return {
            "name": self.name,
            "kind": self.kind,
            "resource": self.resource,
            "mechanism": self.mechanism,
            "summary": self.summary,
            "undo": self.undo,
        }
