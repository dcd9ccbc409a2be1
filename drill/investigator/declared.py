"""The stack's declared state of the request path, read from `pulumi stack export` (Pulumi's deployment
format, version 3: `{"version": 3, "deployment": {"manifest": ..., "resources": [{"urn", "type", "inputs",
"outputs", ...}]}}`, see docs/investigator-kinds.md).

The export is the state Pulumi recorded at the last update, so every difference from the live resource is
a change made outside Pulumi. Resources are matched by type and the stack's outputs (the image function by
its name, output LambdaFunctionName), never by auto-generated physical names. Without the CLI the
same document is computed from the program under mocks (drill/declared/program.py); which
source is used is decided by drill/declared/source.py.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FUNCTION_TYPE = "aws:lambda/function:Function"
Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class DeclaredFunction:
    """The image function's configuration as the stack declares it (Pulumi's property names)."""

    timeout: int | None
    memory_size: int | None
    handler: str | None
    runtime: str | None
    layers: tuple[str, ...]
    environment: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Declared:
    source: str  # where the declared state came from, said in the report
    function: DeclaredFunction | None
    # True for Pulumi's state at the last update; False for the working copy's program, which may hold changes
    # never deployed: its differences are listed as drift, never blamed (collectors/drift.py).
    deployed: bool = True


class DeclaredUnavailable(Exception):
    """The declared state could not be read (no Pulumi CLI, no stack, an unreadable export)."""


def _whole(value: Any) -> Any:
    """A number as Pulumi's engine records it under mocks (30.0) is the integer AWS answers (30)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _function(resource: Mapping[str, Any]) -> DeclaredFunction:
    values = {**(resource.get("inputs") or {}), **(resource.get("outputs") or {})}
    environment = (values.get("environment") or {}).get("variables") or {}
    return DeclaredFunction(
        timeout=_whole(values.get("timeout")),
        memory_size=_whole(values.get("memorySize")),
        handler=values.get("handler"),
        runtime=values.get("runtime"),
        layers=tuple(values.get("layers") or ()),
        environment={str(k): str(v) for k, v in environment.items()},
    )


def from_export(exported: Mapping[str, Any], function_name: str, source: str, *, deployed: bool = True) -> Declared:
    """The declared state of the request path in a `pulumi stack export` document."""
    if exported.get("version") != 3:
        raise DeclaredUnavailable(f"unknown deployment format version {exported.get('version')!r} (expected 3)")
    resources = (exported.get("deployment") or {}).get("resources") or []
    functions = [
        r for r in resources if r.get("type") == FUNCTION_TYPE and (r.get("outputs") or {}).get("name") == function_name
    ]
    return Declared(source=source, function=_function(functions[0]) if functions else None, deployed=deployed)


def from_pulumi(runner: Runner, stack: str | None, function_name: str) -> Declared:
    """Run `pulumi stack export` through the drill's command-runner seam (subprocess.run's signature)."""
    command = ["pulumi", "stack", "export", *(["--stack", stack] if stack else [])]
    try:
        done = runner(command, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DeclaredUnavailable(f"`{' '.join(command)}` could not run: {err}") from err
    if done.returncode != 0:
        raise DeclaredUnavailable(f"`{' '.join(command)}` failed: {(done.stderr or '').strip()[:200]}")
    try:
        exported = json.loads(done.stdout)
    except json.JSONDecodeError as err:
        raise DeclaredUnavailable(f"`{' '.join(command)}` printed no JSON: {err}") from err
    return from_export(exported, function_name, f"`{' '.join(command)}` (Pulumi's state at the last update)")
