"""What every step shares: the `Drill` (stack, clients and the injectable seams) and its results."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drill import stack
from drill.aws import Clients, as_drill_error
from drill.errors import DrillError, Terminated


def describe(err: BaseException) -> str:
    """What stopped a step, in the operator's words."""
    if isinstance(err, Terminated):
        return "terminated by SIGTERM"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted by Ctrl-C"
    if isinstance(err, DrillError):
        return f"error: {err}"
    mapped = as_drill_error(err) if isinstance(err, Exception) else None
    return f"error: {mapped or f'{type(err).__name__}: {err}'}"


def real_period(seconds: float) -> float:
    """CloudWatch's periods last as long as they say."""
    return seconds


@dataclass(frozen=True)
class Probe:
    """One request to the API."""

    status: int | None
    latency_ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def failing(self) -> bool:
        return self.status is not None and self.status >= 500

    def describe(self) -> str:
        answer = f"HTTP {self.status}" if self.status is not None else f"no answer ({self.error})"
        return f"{answer} in {self.latency_ms:.0f} ms"


ApiProbe = Callable[[], Probe]
FunctionCaller = Callable[[str, dict[str, Any]], Any]  # (function name, event) -> the function's result


@dataclass
class Drill:
    """Everything a step needs; the callables are the seams tests (and the rehearsal) replace."""

    outputs: stack.StackOutputs
    clients: Clients
    account: str
    region: str
    api_probe: ApiProbe
    function_caller: FunctionCaller
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    progress: Callable[[str], None] = field(default=lambda _message: None)
    # Options that point `python -m drill` at the same stack again (the CLI fills in --outputs/--region...).
    cli_options: str = ""
    aws_cli_options: str = ""  # e.g. "--region eu-west-1 --profile demo", for the aws CLI equivalents
    # How many wall seconds an alarm period of N seconds lasts, for the re-arm rule's reading of periods: as
    # many against CloudWatch; a stand-in that evaluates alarms on its own clock supplies its own.
    period_length: Callable[[float], float] = real_period
    # Whether the stack outlives this drill, so a result may tell the operator to run a command later; a
    # stack that goes with the drill (an in-process stand-in) gets no such advice.
    advise_commands: bool = True
    # Wall-clock times of every image-function invocation this drill caused (direct calls and API probes):
    # the drill's own traffic counts toward the invocations alarm before CloudWatch's metrics show it.
    invoked: list[datetime] = field(default_factory=list)
    timeline: Timeline | None = None  # the running step's, so an interrupted step still reports its events

    def command_line(self, command: str) -> str:
        """How the operator runs one of the drill's commands against this stack."""
        return f"python -m drill {command} {self.cli_options}".rstrip()

    def probe(self) -> Probe:
        """Probe the API; every probe through API Gateway is one image-function invocation."""
        self.invoked.append(self.wall())
        return self.api_probe()

    def call_image_function(self, event: dict[str, Any]) -> Any:
        self.invoked.append(self.wall())
        return self.function_caller(self.outputs.require(stack.IMAGE_FUNCTION), event)


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    summary: str  # one line
    lines: list[str] = field(default_factory=list)  # details for a person (timeline, report)
    data: dict[str, Any] = field(default_factory=dict)  # the same for machines
    # An interrupt the step took and finished on (a restore stopped while it waited to re-arm): the run
    # records it as what stopped it, and the result says what was done before it.
    stopped: BaseException | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "ok": self.ok,
            "seconds": round(self.seconds, 2),
            "summary": self.summary,
            **self.data,
        }


class Timeline:
    """Elapsed-time stamped events of one step, echoed to the progress sink as they happen."""

    def __init__(self, drill: Drill) -> None:
        self.drill = drill
        self.start = drill.clock()
        self.events: list[tuple[float, str]] = []
        drill.timeline = self

    def elapsed(self) -> float:
        return self.drill.clock() - self.start

    def mark(self, event: str) -> None:
        self.events.append((self.elapsed(), event))
        self.drill.progress(f"+{self.elapsed():6.1f}s {event}")

    def lines(self) -> list[str]:
        return [f"+{seconds:6.1f}s  {event}" for seconds, event in self.events]

    def to_json(self) -> list[dict[str, Any]]:
        return [{"seconds": round(seconds, 2), "event": event} for seconds, event in self.events]
