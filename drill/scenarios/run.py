"""`run --scenario NAME`: the drill's `run` (status -> trigger -> investigate -> restore -> status) with a
game-day scenario as the fault; the investigate step is marked hit or miss against the scenario's kind."""

from __future__ import annotations

from dataclasses import dataclass

from drill.scenarios.inject import scenario_for
from drill.scenarios.restore import restore
from drill.scenarios.trigger import fire
from drill.steps.model import Drill, StepResult
from drill.steps.run import RunResult, run


@dataclass(frozen=True)
class RunScenario:
    """The game-day scenario as `drill.steps.run.run` takes it."""

    drill: Drill
    name: str
    kind: str
    timeout: float
    interval: float
    restore_timeout: float

    def fire(self) -> StepResult:
        return fire(self.drill, self.name, timeout=self.timeout, interval=self.interval)

    def clean(self) -> StepResult:
        return restore(self.drill, timeout=self.restore_timeout, interval=min(self.interval, 5))


def run_scenario(
    drill: Drill, name: str, *, since_minutes: float, trigger_timeout: float, restore_timeout: float, interval: float
) -> RunResult:
    kind = scenario_for(drill, name).kind  # a usage error before anything runs
    scenario = RunScenario(drill, name, kind, trigger_timeout, interval, restore_timeout)
    outcome = run(
        drill,
        since_minutes=since_minutes,
        trigger_timeout=trigger_timeout,
        restore_timeout=restore_timeout,
        interval=interval,
        scenario=scenario,
    )
    for step in outcome.steps:
        if step.name == "investigate" and "error" not in step.data:
            step.summary = f"{'hit' if step.ok else 'miss'} (truth {kind}): {step.summary}"
            step.data["truth"], step.data["hit"] = kind, step.ok
    return outcome
