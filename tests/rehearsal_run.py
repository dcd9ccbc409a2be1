"""One background run of `python -m drill rehearse --json` for the whole test session (and the means to
start other such runs: tests/stack_plan.py records the program's stack this way).

The rehearsal takes about ten seconds, most of it waiting on its own threads, so the session starts it
before any test runs (in pytest-xdist's controller, before the workers exist) and the story test only
reads its result. The run writes stdout, stderr and finally its exit code into a folder named by an
environment variable, which the workers inherit. A plain module: conftest.py and the tests import it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FOLDER_VARIABLE = "AIOPS_TEST_REHEARSAL_DIR"
ROOT = Path(__file__).resolve().parent.parent

# Runs the command in a session (process group) of its own, with its output in files, records that group,
# then writes the exit code last: the code's file appearing means the run is over.
_RUNNER = (
    "import os, subprocess, sys\n"
    "out, err, code = sys.argv[1:4]\n"
    "with open(out, 'w') as o, open(err, 'w') as e:\n"
    "    run = subprocess.Popen(sys.argv[4:], stdout=o, stderr=e, start_new_session=True)\n"
    "    open(code + '.group', 'w').write(str(run.pid))\n"
    "    rc = run.wait()\n"
    "open(code + '.tmp', 'w').write(str(rc))\n"
    "os.replace(code + '.tmp', code)\n"
)


def user_environment() -> dict[str, str]:
    """The environment of a person without AWS: no AWS_* variable at all (the tests set fake ones)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def start(folder: Path) -> subprocess.Popen:
    """Start the rehearsal in the background, writing into `folder`; its own process group, to stop it whole."""
    return start_command(folder, [sys.executable, "-m", "drill", "rehearse", "--json"])


def start_command(folder: Path, command: list[str]) -> subprocess.Popen:
    """Start `command` in the background as the rehearsal is started (output, group and exit code in `folder`)."""
    files = [str(folder / name) for name in ("stdout", "stderr", "code")]
    return subprocess.Popen(  # noqa: S603 (our own interpreter and module, fixed arguments)
        [sys.executable, "-c", _RUNNER, *files, *command],
        cwd=ROOT,
        env=user_environment(),
        start_new_session=True,
    )


def result(folder: Path, timeout: float) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, process group) of the run, once it is over; TimeoutError if not in time."""
    code = folder / "code"
    deadline = time.monotonic() + timeout
    while not code.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the background run in {folder} did not finish within {timeout:.0f} s")
        time.sleep(0.1)
    read = lambda name: (folder / name).read_text(encoding="utf-8")  # noqa: E731
    return int(read("code")), read("stdout"), read("stderr"), int(read("code.group"))


def stop(process: subprocess.Popen, folder: Path) -> None:
    """Stop the run and the rehearsal under it (each its own process group) if they are still going."""
    group = folder / "code.group"
    groups = [process.pid, *([int(group.read_text())] if group.exists() else [])]
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError):  # already over
            os.killpg(pgid, signal.SIGKILL)
    process.wait()
