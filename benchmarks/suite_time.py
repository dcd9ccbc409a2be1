"""How long the two test steps of `.ci/run` take: the README's `python -m pytest -q`, then `-m e2e`.

Run from the project root:  ./venv/bin/python benchmarks/suite_time.py [--runs 1] [--only fast|e2e]

Each step is the command as `.ci/run` runs it, in a new process (its pytest-xdist workers and every
subprocess they start included). Wall time is what the README states; CPU time (user + system of the
command and every process it waited for) says how much of the machine it needed, and depends less on what
else runs, so the machine line gives the load average. Each step's last line (pytest's summary) is printed
verbatim. A benchmark, not a test: it fails only if a step does not exit 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from _harness import machine, print_table, timed

STEPS = {
    "fast": [sys.executable, "-m", "pytest", "-q"],  # the README's test command
    "e2e": [sys.executable, "-m", "pytest", "-q", "-m", "e2e"],  # .ci/run's end-to-end step
}


def one_run(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds, pytest's summary line) of one run of `command`."""
    run = timed(command)
    if run.code != 0:
        raise SystemExit(f"{' '.join(command[1:])} exited {run.code}:\n{run.out[-5000:]}")
    return run.wall, run.cpu, run.out.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--only", choices=sorted(STEPS))
    args = parser.parse_args()

    rows, summaries = [], []
    for name, command in STEPS.items():
        if args.only and name != args.only:
            continue
        runs = []
        for i in range(args.runs):
            runs.append(one_run(command))
            print(f"{name}: run {i + 1} of {args.runs} done", file=sys.stderr)
        for i, (wall, cpu, _) in enumerate(runs):
            rows.append({"step": name, "run": str(i + 1), "wall s": f"{wall:.1f}", "CPU s": f"{cpu:.1f}"})
        if args.runs > 1:
            walls, cpus = [w for w, _, _ in runs], [c for _, c, _ in runs]
            median = {"wall s": f"{statistics.median(walls):.1f}", "CPU s": f"{statistics.median(cpus):.1f}"}
            rows.append({"step": name, "run": "median", **median})
        summaries.append(f"{' '.join(['python', *command[1:]])}: {runs[-1][2]}")
    print(machine())
    print_table(rows)
    print("\nCPU s = user + system seconds of the step and the processes it waited for (workers, subprocesses).")
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
