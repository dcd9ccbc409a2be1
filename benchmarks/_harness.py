"""What both benchmarks share: the tests' fake AWS and handler loading, and the table they print.

Benchmarks run standalone (`python benchmarks/x.py`), outside pytest: they take tests/handler_harness.py
(plain Python, what tests/conftest.py uses too) from the tests folder. Import this before boto3 and call
`use_fake_aws()` first: boto3 must see only the fake environment.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in functions/<name> (it would be packaged)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import handler_harness  # noqa: E402  (from the tests folder, put on the path above)
from handler_harness import load_handler  # noqa: E402,F401  (re-exported for the benchmarks)

REGION = "us-west-2"


def use_fake_aws() -> None:
    """Fake credentials and the benchmarks' region, as the tests have; nothing reaches AWS."""
    handler_harness.use_fake_aws(REGION)


def print_table(rows: list[dict[str, str]]) -> None:
    """Rows of equal keys as right-aligned columns under a header."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(row[c].rjust(widths[c]) for c in columns))
