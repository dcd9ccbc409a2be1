"""The stack's configuration as `pulumi up` would see it: Pulumi.yaml defaults, then Pulumi.<stack>.yaml.

Returned in the form `pulumi.runtime.set_all_config` takes: fully qualified keys ("aiops-demo:imageCount",
"aws:region") and string values (booleans lower-case, structured values as JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from drill.errors import UsageError


@dataclass(frozen=True)
class StackConfig:
    project: str
    stack: str
    values: dict[str, str]

    @property
    def region(self) -> str:
        region = self.values.get("aws:region")
        if not region:
            raise UsageError(f"config aws:region is not set in Pulumi.{self.stack}.yaml: the rehearsal needs a region")
        return region

    def with_values(self, values: Mapping[str, Any]) -> StackConfig:
        """This configuration with `values` on top, keys as a stack file writes them (a plain key is the project's):
        e.g. `{"fisEnabled": True}` to rehearse the FIS scenarios on a stack whose file leaves FIS off."""
        overrides = {qualified(self.project, key): as_text(value) for key, value in values.items()}
        return StackConfig(project=self.project, stack=self.stack, values={**self.values, **overrides})


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def qualified(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def load_stack_config(root: Path, stack: str) -> StackConfig:
    """Project defaults overlaid with the stack file; secrets cannot be read offline and are refused."""
    project_file = root / "Pulumi.yaml"
    stack_file = root / f"Pulumi.{stack}.yaml"
    project_doc = yaml.safe_load(project_file.read_text(encoding="utf-8")) or {}
    project = str(project_doc["name"])
    values: dict[str, str] = {}
    for key, spec in (project_doc.get("config") or {}).items():
        default = spec.get("default") if isinstance(spec, dict) else spec
        if default is not None:
            values[qualified(project, key)] = as_text(default)
    if not stack_file.is_file():
        raise UsageError(f"stack file {stack_file.name} not found: pass --stack NAME for an existing Pulumi.NAME.yaml")
    stack_doc = yaml.safe_load(stack_file.read_text(encoding="utf-8")) or {}
    for key, value in (stack_doc.get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            raise UsageError(f"config {key} in {stack_file.name} is a secret: the rehearsal cannot decrypt it")
        values[qualified(project, key)] = as_text(value)
    return StackConfig(project=project, stack=stack, values=values)
