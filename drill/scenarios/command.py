"""The CLI's side of the game day: `scenarios` (the catalogue), `inject` (one scenario), `traffic`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from drill.scenarios.catalogue import SCENARIOS
from drill.scenarios.gameday import gameday
from drill.scenarios.inject import inject
from drill.scenarios.run import run_scenario
from drill.scenarios.traffic import traffic
from drill.scenarios.trigger import trigger_scenario
from drill.steps.model import Drill
from drill.steps.run import INTERRUPTED

__all__ = ["list_scenarios", "run_gameday", "run_inject", "run_scenario", "run_traffic", "run_trigger"]


def catalogue_lines() -> list[str]:
    width = max(len(s.name) for s in SCENARIOS)
    lines = []
    for scenario in SCENARIOS:
        lines += [
            f"{scenario.name:<{width}}  {scenario.mechanism:<14}  changes {scenario.resource}",
            f"{'':<{width}}  {scenario.summary}",
            f"{'':<{width}}  undone: {scenario.undo}",
        ]
    return lines


def list_scenarios(args: argparse.Namespace, out: TextIO) -> int:
    """`python -m drill scenarios [--json]`: needs no stack and no AWS."""
    if args.json:
        print(json.dumps({"scenarios": [s.describe() for s in SCENARIOS]}, indent=2), file=out)
    else:
        print("\n".join(catalogue_lines()), file=out)
    return 0


def run_inject(args: argparse.Namespace, drill: Drill, out: TextIO) -> int:
    result = inject(drill, args.scenario, timeout=args.timeout, interval=args.interval)
    print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join([*result.lines, result.summary]), file=out)
    return 0 if result.ok else 1


def ask_on_terminal(prompt: str) -> str:
    print(prompt, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline()


def run_gameday(args: argparse.Namespace, drill: Drill, out: TextIO) -> int:
    result = gameday(
        drill,
        choice=args.scenario,
        answer=args.answer,
        ask=ask_on_terminal,
        show=drill.progress,
        timeout=args.timeout,
        interval=args.interval,
        since_minutes=args.since,
        restore_timeout=args.restore_timeout,
    )
    print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join([*result.lines, result.summary]), file=out)
    return 0 if result.ok else 1


def run_trigger(args: argparse.Namespace, drill: Drill, out: TextIO) -> int:
    result, cleanup = trigger_scenario(
        drill, args.scenario, timeout=args.timeout, interval=args.interval, restore_timeout=args.restore_timeout
    )
    shown = [result, *([cleanup] if cleanup else [])]
    if args.json:
        print(json.dumps([step.to_json() for step in shown], indent=2), file=out)
    else:
        print("\n".join(line for step in shown for line in [*step.lines, step.summary]), file=out)
    return 0 if result.ok else 1


def run_traffic(args: argparse.Namespace, drill: Drill, out: TextIO) -> int:
    result = traffic(drill, rps=args.rps, duration=args.duration, rearm_timeout=args.rearm_timeout)
    print(json.dumps(result.to_json(), indent=2) if args.json else "\n".join([*result.lines, result.summary]), file=out)
    return INTERRUPTED if result.stopped is not None else 0
