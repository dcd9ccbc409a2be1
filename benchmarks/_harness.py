"""What both benchmarks share: the tests' fake AWS and handler loading, and the table they print.

Benchmarks run standalone (`python benchmarks/x.py`), outside pytest: they take tests/handler_harness.py
(plain Python, what tests/conftest.py uses too) from the tests folder. Import this before boto3 and call
`use_fake_aws()` first: boto3 must see only the fake environment.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in functions/<name> (it would be packaged)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import handler_harness  # noqa: E402  (from the tests folder, put on the path above)
from handler_harness import load_handler  # noqa: E402,F401  (re-exported for the benchmarks)

REGION = "us-west-2"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timed:
    wall: float  # seconds
    cpu: float  # user + system seconds of the command and the children it reaped
    code: int  # exit code
    out: str  # stdout, with stderr when merged
    err: str  # stderr when not merged, else ""


def timed(command: list[str], *, env: dict[str, str] | None = None, merge: bool = True) -> Timed:
    """One run of `command` from the project root, in a new process, timed by wall clock and by rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter and commands)
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if merge else err
        )
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of the command and its reaped children
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        printed, logged = (f.read().decode("utf-8", errors="replace") for f in (out, err))
    return Timed(wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), printed, logged)


def use_fake_aws() -> None:
    """Fake credentials and the benchmarks' region, as the tests have; nothing reaches AWS."""
    handler_harness.use_fake_aws(REGION)


def machine() -> str:
    """The machine a figure was measured on: usable cores (as `nproc` counts them), CPU model, load average.

    The load average belongs to the figure: on a shared machine wall times depend on what else runs.
    """
    cpuinfo = Path("/proc/cpuinfo")  # Linux; elsewhere platform.processor()
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = models[0] if models else platform.processor() or "unknown CPU"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"machine: {cores} cores (nproc), {model}, load average {load} (1/5/15 min)"


def print_table(rows: list[dict[str, str]]) -> None:
    """Rows of equal keys as right-aligned columns under a header."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(row[c].rjust(widths[c]) for c in columns))
