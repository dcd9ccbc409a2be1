"""Differences between the image function's live configuration and the stack's declared state.

Compared: timeout, memory, handler, runtime, layers and the environment variables. The parameter
variable is the `function` source's (function_environment_changed wins there); every other difference is
listed here, with the declared and the live value. Whether one explains the symptoms is the ranking's
call (rules_path.function_configuration_changed); tags and descriptions are never compared.
"""

from __future__ import annotations

from typing import Any

from drill.investigator.collectors._base import EvidenceList, Scope, SourceUnavailable
from drill.investigator.collectors.function import PARAMETER_VARIABLE, last_modified
from drill.investigator.model import Evidence

SOURCE = "drift"
# Declared field -> (the live configuration's key, whether a difference can break a request).
COMPARED = {
    "timeout": ("Timeout", True),
    "memory_size": ("MemorySize", True),
    "handler": ("Handler", True),
    "runtime": ("Runtime", True),
    "layers": ("Layers", True),
}


def live_value(config: dict[str, Any], key: str) -> Any:
    if key == "Layers":
        return tuple(layer["Arn"] for layer in config.get("Layers") or [])
    return config.get(key)


def collect(scope: Scope) -> list[Evidence]:
    declared, out = scope.declared, EvidenceList(SOURCE, scope)
    if declared is None:
        raise SourceUnavailable("no declared state was given")
    name = scope.target.function_name
    if declared.function is None:
        out.add(f"{declared.source} declares no function named {name}", {"source": declared.source})
        return out.items
    config = scope.clients.lambda_.get_function_configuration(FunctionName=name)
    modified = last_modified(config)
    differences = []
    for field_name, (key, breaks) in COMPARED.items():
        want, have = getattr(declared.function, field_name), live_value(config, key)
        if want is not None and want != have:
            differences.append((field_name, want, have, breaks))
    variables = dict((config.get("Environment") or {}).get("Variables") or {})
    for variable in sorted(set(declared.function.environment) | set(variables)):
        if variable == PARAMETER_VARIABLE:
            continue
        want, have = declared.function.environment.get(variable), variables.get(variable)
        if want != have:
            differences.append((f"environment {variable}", want, have, False))
    for prop, want, have, breaks in differences:
        out.add(
            f"function {name}: {prop} is {have!r}, the stack declares {want!r} ({declared.source})",
            # Only a difference from what was deployed can be a cause: the working copy may hold undeployed changes.
            {
                "resource": name,
                "property": prop,
                "declared": want,
                "live": have,
                "breaks": breaks and declared.deployed,
            },
            time=modified,
        )
    if not differences:
        out.add(
            f"function {name}: timeout, memory, handler, runtime, layers and environment as declared "
            f"({declared.source})",
            {"resource": name, "differences": 0},
        )
    return out.items
