"""Running a Lambda handler here without AWS: fake credentials and a fixed region, and a fresh handler.

Plain Python, no pytest: tests/conftest.py uses it, and so do the benchmarks (benchmarks/_harness.py),
which run standalone. `use_fake_aws` must run before anything imports boto3.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def use_fake_aws(region: str) -> None:
    """Drop every AWS_* variable, then fake credentials, `region` and no profile files: nothing reaches AWS."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": region,
            "AWS_REGION": region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )


def load_handler(name: str) -> ModuleType:
    """Import functions/<name>/handler.py as a fresh module (each test gets cold-start state).

    A handler may import modules of its own folder with a plain `import x`, as Lambda resolves them from the
    package root: the folder is on sys.path while the handler loads, and those modules are loaded fresh too
    (never another function's module of the same name).
    """
    folder = ROOT / "functions" / name
    path = folder / "handler.py"
    for loaded in _FUNCTION_MODULES:  # what earlier loads imported from functions/: never reused
        sys.modules.pop(loaded, None)
    _FUNCTION_MODULES.clear()
    module_name = f"fn_{name}_handler"
    spec = importlib.util.spec_from_file_location(module_name, path, loader=_CompiledOnce(module_name, str(path)))
    module = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    sys.modules[module_name] = module
    sys.path.insert(0, str(folder))
    # The folder's own modules come through the same loader: the import system asks this cache first.
    sys.path_importer_cache[str(folder)] = importlib.machinery.FileFinder(str(folder), (_CompiledOnce, [".py"]))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(folder))
        _FUNCTION_MODULES.update(set(sys.modules) - before)
    return module


def load_function_module(name: str, path: Path) -> ModuleType:
    """The module at `path` (a function's own file, imported alone) as a new module `name`, through the loader
    that never writes bytecode beside it."""
    spec = importlib.util.spec_from_file_location(name, path, loader=_CompiledOnce(name, str(path)))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _CompiledOnce(importlib.machinery.SourceFileLoader):
    """Compiles a source text once per process and never writes bytecode: each load still runs the module afresh
    (cold-start state), but without bytecode files every load compiled it again, about 10 ms a module and a test.
    Keyed by the text itself, so an edited file is compiled anew. Bytecode in functions/<name>/ would be packaged
    into the Lambda zip (`pulumi.FileArchive` takes the folder as it is)."""

    def set_data(self, path, data, *, _mode=0o666):  # type: ignore[override]
        """Write nothing: this is where SourceFileLoader writes the bytecode it compiled."""

    def source_to_code(self, data, path, *, _optimize=-1):  # type: ignore[override]
        key = (str(path), bytes(data))
        if key not in _CODE:
            _CODE[key] = super().source_to_code(data, path, _optimize=_optimize)
        return _CODE[key]


_CODE: dict[tuple[str, bytes], object] = {}


# Names in sys.modules that the last load_handler imported (the handler and its folder's modules).
_FUNCTION_MODULES: set[str] = set()
