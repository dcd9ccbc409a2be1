"""Which declared state an investigation compares with, and a note that says which (issue 21 §5).

Outputs from the Pulumi CLI (no `--outputs`): `pulumi stack export` through the same command runner,
Pulumi's state at the last update. With `--outputs FILE`, or when the export cannot be read: the program
itself under mocks with the stack's configuration (the working copy, which may differ from what was
deployed). When neither can be had the investigation goes on without one, and the note says why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from drill.declared.program import from_program
from drill.investigator.declared import Declared, DeclaredUnavailable, Runner, from_pulumi

ProgramSource = Callable[[str, str], Declared]  # (stack, function name) -> the program's declared state


def program_source(root: Path, account: str) -> ProgramSource:
    return lambda stack, function_name: from_program(root, stack, function_name, account=account)


def read_declared(
    *,
    from_cli: bool,
    stack: str | None,
    default_stack: str,
    function_name: str,
    runner: Runner,
    program: ProgramSource,
) -> tuple[Declared | None, str]:
    """(the declared state or None, a one-line note naming the source used, or why there is none)."""
    reasons: list[str] = []
    if from_cli:
        try:
            declared = from_pulumi(runner, stack, function_name)
            return declared, f"declared state: {declared.source}"
        except DeclaredUnavailable as err:
            reasons.append(str(err))
    else:
        reasons.append("the outputs came from --outputs, so the Pulumi CLI is not asked")
    config_stack = stack or default_stack
    try:
        declared = program(config_stack, function_name)
    except DeclaredUnavailable as err:
        return None, f"no declared state ({'; '.join([*reasons, str(err)])}): drift is not compared"
    return declared, f"declared state: {declared.source} ({'; '.join(reasons)})"
