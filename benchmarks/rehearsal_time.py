"""How long `python -m drill rehearse` takes, as wall time and as CPU time, over a few whole runs.

Run from the project root:  ./venv/bin/python benchmarks/rehearsal_time.py [--runs 3]

Each run is the command a user types, in a new process (moto server and all), with no AWS_* variable. CPU time
(user + system, of the command and every process it waited for) depends little on what else the machine
runs; wall time does, so the machine line gives the load average. After the table it prints the last run's
output verbatim. A benchmark, not a test: it fails only if a rehearsal does not exit 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

from _harness import machine, print_table, timed

COMMAND = [sys.executable, "-m", "drill", "rehearse"]


def one_run() -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, what the command printed) of one rehearsal."""
    run = timed(COMMAND, env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")})
    if run.code != 0:
        raise SystemExit(f"rehearsal exited {run.code}:\n{run.out}")
    return run.wall, run.cpu, run.out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    runs = []
    for i in range(args.runs):
        runs.append(one_run())
        print(f"run {i + 1} of {args.runs} done", file=sys.stderr)
    rows = [{"run": str(i + 1), "wall s": f"{w:.1f}", "CPU s": f"{c:.1f}"} for i, (w, c, _) in enumerate(runs)]
    rows.append(
        {
            "run": "median",
            "wall s": f"{statistics.median(w for w, _, _ in runs):.1f}",
            "CPU s": f"{statistics.median(c for _, c, _ in runs):.1f}",
        }
    )
    print(machine())
    print(f"command: python -m drill rehearse, {args.runs} runs, each a new process, exit 0")
    print_table(rows)
    print("\nCPU s = user + system seconds of the command and the processes it waited for (moto server included).")
    print("\nthe last run's output:\n")
    print(runs[-1][2].rstrip())


if __name__ == "__main__":
    main()
