"""What both benchmarks need before and while they run a handler: fake AWS credentials and a fresh handler.

Benchmarks run standalone (`python benchmarks/x.py`), outside pytest: they cannot use tests/conftest.py,
so they share this instead. Import it before boto3: `use_fake_aws()` must run before boto3 reads the
environment.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-west-2"


def use_fake_aws() -> None:
    """Fake credentials and a fixed region, as the tests have; no profile files read, nothing reaches AWS."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    sys.dont_write_bytecode = True  # no __pycache__ in functions/<name> (it would be packaged)


def load_function(name: str, module_name: str) -> ModuleType:
    """functions/<name>/handler.py as a fresh module (a cold container); the modules of its own folder are
    imported fresh from that folder, as Lambda resolves them."""
    folder = ROOT / "functions" / name
    for loaded in [n for n, m in sys.modules.items() if str(getattr(m, "__file__", "") or "").startswith(str(folder))]:
        del sys.modules[loaded]
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(module_name, folder / "handler.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
    return module


def print_table(rows: list[dict[str, str]]) -> None:
    """Rows of equal keys as right-aligned columns under a header."""
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.rjust(widths[c]) for c in columns))
    print("  ".join("-" * widths[c] for c in columns))
    for row in rows:
        print("  ".join(row[c].rjust(widths[c]) for c in columns))
