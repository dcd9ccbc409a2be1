"""How long `python -m drill rehearse --scenario all --json` takes: every game-day scenario offline, in one process.

Run from the project root:  ./venv/bin/python benchmarks/rehearse_scenarios.py [--runs 2]

Each run is the command a user types, in a new process (one moto server, one provisioning of the program,
then every scenario of the catalogue), with no AWS_* variable. It prints, per run, the whole command's wall
and CPU time (user + system of the command and the processes it waited for) and the scenarios' own
seconds (the sum of the scorecard's `seconds`: inject, symptoms, investigation, restore and the state
compared, without the provisioning), then each scenario's seconds of the last run. The issue's goal is all
scenarios under 60 s on 2 cores. The machine line gives the cores and the load average, which the wall
times depend on. A benchmark, not a test: it fails only if a run does not exit 0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

from _harness import machine, print_table, timed

COMMAND = [sys.executable, "-m", "drill", "rehearse", "--scenario", "all", "--json"]
GOAL_SECONDS = 60.0


def one_run() -> tuple[float, float, dict, str]:
    """(wall seconds, CPU seconds, the JSON the command printed, the 1-minute load average before and after)."""
    load_before = os.getloadavg()[0]
    run = timed(COMMAND, env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, merge=False)
    if run.code != 0:
        raise SystemExit(f"rehearse --scenario all exited {run.code}:\n{run.out[-3000:]}\n{run.err[-3000:]}")
    return run.wall, run.cpu, json.loads(run.out), f"{load_before:.1f}-{os.getloadavg()[0]:.1f}"


def scenario_seconds(document: dict) -> float:
    return sum(s["seconds"] for s in document["scenarios"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    runs = []
    for i in range(args.runs):
        runs.append(one_run())
        print(f"run {i + 1} of {args.runs} done", file=sys.stderr)
    rows = [
        {
            "run": str(i + 1),
            "wall s": f"{w:.1f}",
            "CPU s": f"{c:.1f}",
            "scenarios s": f"{scenario_seconds(d):.1f}",
            "load": load,
        }
        for i, (w, c, d, load) in enumerate(runs)
    ]
    rows.append(
        {
            "run": "median",
            "wall s": f"{statistics.median(r[0] for r in runs):.1f}",
            "CPU s": f"{statistics.median(r[1] for r in runs):.1f}",
            "scenarios s": f"{statistics.median(scenario_seconds(r[2]) for r in runs):.1f}",
            "load": "",
        }
    )
    last = runs[-1][2]["scenarios"]
    print(machine())
    print(f"command: python -m drill rehearse --scenario all --json, {args.runs} runs, each a new process, exit 0")
    print_table(rows)
    print(f"\nscenarios s = the {len(last)} scenarios' own seconds (without starting moto and provisioning); goal")
    print(f"{GOAL_SECONDS:.0f} s. CPU s = user + system seconds of the command and the processes it waited for.")
    print("load = the 1-minute load average when the run began and when it ended.\n")
    print_table(
        [
            {
                "scenario": s["name"],
                "detected": "yes" if s["detected"] else "NO",
                "restored": "yes" if s["restored"] else "NO",
                "seconds": f"{s['seconds']:.1f}",
            }
            for s in last
        ]
    )


if __name__ == "__main__":
    main()
