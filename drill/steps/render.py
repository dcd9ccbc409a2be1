"""How a step's or a run's result is printed: text for a person, JSON for a machine.

`python -m drill` and the offline rehearsal both print `run`'s result through here, so neither reads
the other's printed text.
"""

from __future__ import annotations

import json
from typing import TextIO

from drill.steps.model import StepResult
from drill.steps.run import RunResult


def step_text(result: StepResult) -> str:
    return "\n".join([*result.lines, result.summary])


def run_text(outcome: RunResult) -> str:
    """Every step's details under its heading, then the table."""
    sections = [
        "\n".join([f"## {step.name}: {'ok' if step.ok else 'FAILED'} ({step.seconds:.1f}s)", *step.lines, ""])
        for step in outcome.steps
    ]
    return "\n".join([*sections, *outcome.table()])


def print_step(result: StepResult, as_json: bool, out: TextIO) -> None:
    print(json.dumps(result.to_json(), indent=2) if as_json else step_text(result), file=out)


def print_run(outcome: RunResult, as_json: bool, out: TextIO) -> None:
    print(json.dumps(outcome.to_json(), indent=2) if as_json else run_text(outcome), file=out, flush=True)
