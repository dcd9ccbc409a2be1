"""The stack's outputs: from a JSON file or from `pulumi stack output --json` (names: drill/outputs.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from drill.errors import UsageError

# The output names are drill/outputs.py's (the contract with __main__.py); imported here because the
# steps name them as `stack.BUCKET` and so on.
from drill.outputs import (  # noqa: F401 (re-exported)
    API_5XX_ALARM,
    API_ENDPOINT,
    BUCKET,
    ERRORS_ALARM,
    FAULT_FUNCTION,
    IMAGE_FUNCTION,
    IMAGE_ROLE,
    INVOCATIONS_ALARM,
    PARAMETER,
    SEED_RESULT,
    SEEDER_FUNCTION,
)

Runner = Callable[..., subprocess.CompletedProcess]


@dataclass(frozen=True)
class StackOutputs:
    """Stack outputs as strings; `require` names the missing key in its error."""

    values: Mapping[str, str]
    origin: str  # where they came from, for error messages

    def get(self, key: str) -> str | None:
        value = self.values.get(key)
        return value or None

    def require(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise UsageError(f"stack output {key!r} is missing from {self.origin}")
        return value

    def require_all(self, keys: Iterable[str]) -> None:
        """Every missing output named in one message."""
        missing = [key for key in dict.fromkeys(keys) if self.get(key) is None]
        if len(missing) == 1:
            self.require(missing[0])
        if missing:
            names = ", ".join(repr(key) for key in missing)
            raise UsageError(f"stack outputs {names} are missing from {self.origin}")

    @property
    def fault_chain(self) -> bool:
        """True when the stack was deployed with the fault-injection chain."""
        return self.get(FAULT_FUNCTION) is not None and self.get(INVOCATIONS_ALARM) is not None


def parse_outputs(text: str, origin: str) -> StackOutputs:
    if not text.strip():
        raise UsageError(f"{origin} is empty: write it with `pulumi stack output --json > FILE`")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{origin} is not JSON ({err.msg} at line {err.lineno})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{origin} must hold a JSON object of stack outputs, got {type(data).__name__}")
    # Scalars only: a structured output is not one the drill reads, so keep it as JSON text.
    values = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items() if v is not None}
    return StackOutputs(values=values, origin=origin)


def load_outputs(path: str | None, stack: str | None, *, runner: Runner = subprocess.run) -> StackOutputs:
    """Read `--outputs FILE`, or ask the Pulumi CLI (`--stack` picks the stack)."""
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8-sig")  # a BOM (PowerShell) is fine
        except UnicodeDecodeError as err:
            raise UsageError(
                f"outputs file {path} is not UTF-8 text (byte {err.start}; PowerShell writes UTF-16): write it with "
                "`pulumi stack output --json > FILE`"
            ) from None
        except OSError as err:
            raise UsageError(f"cannot read outputs file {path}: {err.strerror or err}") from None
        return parse_outputs(text, f"outputs file {path}")
    command = ["pulumi", "stack", "output", "--json"] + (["--stack", stack] if stack else [])
    try:
        done = runner(command, capture_output=True, text=True, timeout=120, check=False)
    except FileNotFoundError:
        raise UsageError(
            "pulumi CLI not found on PATH; install it or pass --outputs FILE (from `pulumi stack output --json`)"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError("`pulumi stack output --json` did not answer within 120 s") from None
    if done.returncode != 0:
        first = next((line.strip() for line in (done.stderr or "").splitlines() if line.strip()), "")
        raise UsageError(f"`{' '.join(command)}` failed (exit {done.returncode}): {first or 'no message'}")
    return parse_outputs(done.stdout, f"`{' '.join(command)}`")
