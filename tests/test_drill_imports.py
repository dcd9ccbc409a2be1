"""drill/ imports one way: no module, and no package, imports one that imports it back.

Read from the source with `ast` (nothing is imported), every import counted, those inside functions too:
a lazy import closes a circle as surely as one at the top (the rehearsal once imported `drill.cli` back
from inside a function).
"""

from __future__ import annotations

import ast
import functools
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def drill_modules() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / "drill").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported(node: ast.AST, modules: dict[str, Path]) -> list[str]:
    """The drill modules one import statement names (`from drill import stack` names drill.stack)."""
    if isinstance(node, ast.Import):
        found = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        found = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names]
    else:
        return []
    return [name for name in found if name.split(".")[0] == "drill"]


@functools.cache
def module_imports() -> tuple[tuple[str, str], ...]:
    """(importer, imported) for every drill import statement. Parsing drill/ is most of this file's time, and
    the source does not change during a run: it is read once for every graph the tests ask for."""
    modules = drill_modules()
    return tuple(
        (module, name)
        for module, path in modules.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        for name in imported(node, modules)
    )


def import_graph(depth: int | None) -> dict[str, set[str]]:
    """importer -> imported, with every name cut to `depth` parts (2: drill.steps, drill.cli...; None: modules).
    A new graph on each call: a test may add an edge to its own."""
    graph: dict[str, set[str]] = {}
    for module, name in module_imports():
        source, target = ".".join(module.split(".")[:depth]), ".".join(name.split(".")[:depth])
        if source != target:
            graph.setdefault(source, set()).add(target)
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        return err.args[1]
    return None


@pytest.mark.parametrize("depth", [None, 2], ids=["modules", "packages"])
def test_drill_has_no_import_circle(depth):
    graph = import_graph(depth)
    assert "drill.cli" in graph and "drill.steps" in str(graph)  # the graph was read, not empty
    assert cycle(graph) is None


def test_the_circle_check_sees_a_lazy_import():
    graph = import_graph(2)
    graph["drill.rehearsal"].add("drill.cli")  # what drill/rehearsal/command.py's run_drill once did
    found = cycle(graph)
    assert found is not None and {"drill.cli", "drill.rehearsal"} <= set(found)


def test_shared_helpers_import_no_other_drill_package():
    graph = import_graph(2)
    assert graph.get("drill.shared", set()) == set()
    for user in ("drill.steps", "drill.investigator", "drill.rehearsal"):
        assert "drill.shared" in graph[user], user
    # The steps and the rehearsal reach the API event and the image count through drill.shared only.
    assert "drill.investigator" not in import_graph(None).get("drill.steps.status", set())
    assert "drill.steps.seams" not in import_graph(None).get("drill.rehearsal.local_api", set())
