"""The image function's configuration against what the stack declared: its parameter variable and its role."""

from __future__ import annotations

from datetime import datetime

from drill.investigator.collectors._base import EvidenceList, Scope, in_window
from drill.investigator.model import Evidence

SOURCE = "function"
PARAMETER_VARIABLE = "BUCKET_NAME_PARAMETER"  # the image function's contract (functions/image_api)


def last_modified(config: dict) -> datetime | None:
    """Lambda's LastModified is ISO 8601 text (`2026-11-25T10:15:42.000+0000`)."""
    raw = config.get("LastModified")
    try:
        return datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S.%f%z") if raw else None
    except ValueError:
        return None


def collect(scope: Scope) -> list[Evidence]:
    target, out = scope.target, EvidenceList(SOURCE, scope)
    name = target.function_name
    config = scope.clients.lambda_.get_function_configuration(FunctionName=name)
    modified = last_modified(config)
    changed = in_window(modified, scope.window)
    variables = dict((config.get("Environment") or {}).get("Variables") or {})
    value, expected = variables.get(PARAMETER_VARIABLE), target.parameter_name
    facts = {"function": name, "variable": PARAMETER_VARIABLE, "value": value, "expected": expected}
    if value == expected:
        detail = f"function {name}: {PARAMETER_VARIABLE}={value!r}, the stack's parameter"
        out.add(detail, {**facts, "env_matches": True})
    else:
        state = "is not set" if value is None else f"is {value!r}"
        out.add(
            f"function {name}: {PARAMETER_VARIABLE} {state}, but the stack declared {expected!r} (output "
            "BucketNameParameter)",
            # The variables are kept for the exact `--environment` fix (it replaces all of them).
            {**facts, "env_matches": False, "variables": variables},
            time=modified,
            event=f"function {name} configuration changed" if changed else None,
        )
    role, declared = config.get("Role"), target.declared_role_arn
    facts = {"function": name, "role": role, "expected": declared}
    if declared is None:
        out.add(
            f"function {name} runs as {role}; not compared: {target.notes.get('declared_role_arn', 'not declared')}",
            {**facts, "role_matches": None},
        )
    elif role == declared:
        out.add(f"function {name} runs as {role}, the role the stack gave it", {**facts, "role_matches": True})
    else:
        out.add(
            f"function {name} runs as {role}, not as the role the stack gave it ({declared}, output "
            "ImageFunctionRoleArn)",
            {**facts, "role_matches": False},
            time=modified,
            event=f"function {name} configuration changed" if changed else None,
        )
    return out.items
