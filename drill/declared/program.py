"""The stack's declared state computed from the program itself, for when there is no Pulumi CLI (offline).

`__main__.py` runs under preflight's recording mocks (drill/preflight/plan.py, the same machinery the
rehearsal's replica uses) with the stack's configuration (`Pulumi.yaml` and `Pulumi.<stack>.yaml`); the
registrations are written as a `pulumi stack export` document, so drill/investigator/declared.py reads
both sources the same way, matching the function by the stack's output, not by a physical name.

It is the working copy's declaration, which may differ from what was deployed: the source says so, and
its differences are drift, never a root cause (`Declared.deployed` is False). A run takes seconds, so
the document is cached under the user's cache directory, keyed by a hash of the program's files, the
configuration and the account.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drill.errors import UsageError
from drill.investigator.declared import Declared, DeclaredUnavailable, from_export

PROGRAM_FILES = ("__main__.py", "Pulumi.yaml")
PROGRAM_DIRS = ("components", "functions")  # what the program reads: its code and the functions it packages
FORMAT = 2  # of the cached document: 2 records each resource's id (a cache of format 1 is computed again)


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/aiops-drill, else ~/.cache/aiops-drill."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aiops-drill"


def _program_files(root: Path) -> Iterator[Path]:
    for name in PROGRAM_FILES:
        if (root / name).is_file():
            yield root / name
    for folder in PROGRAM_DIRS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def cache_key(root: Path, config: dict[str, str], account: str) -> str:
    """A hash of the checkout's program files (path and content), the configuration and the account."""
    digest = hashlib.sha256()
    for path in _program_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps({"config": config, "account": account, "format": FORMAT}, sort_keys=True).encode())
    return digest.hexdigest()


def export_document(root: Path, stack: str, account: str) -> dict:
    """The program's registrations for `stack`, as a deployment (version 3) document."""
    from drill.preflight.plan import ProgramRefused, plan_stack  # pulumi is imported only when needed
    from drill.rehearsal.stack_config import load_stack_config

    try:
        config = load_stack_config(root, stack)
        plan = plan_stack(config, root, account)
    except (UsageError, ProgramRefused) as err:
        raise DeclaredUnavailable(f"the program could not be run under mocks for stack {stack!r}: {err}") from err
    return {"version": 3, "deployment": {"resources": plan.resources}}


def from_program(root: Path, stack: str, function_name: str, *, account: str, cache: Path | None = None) -> Declared:
    """The declared state of `stack` from the program in `root` (cached: see the module's docstring)."""
    from drill.rehearsal.stack_config import load_stack_config

    try:
        config = load_stack_config(root, stack)
    except UsageError as err:
        raise DeclaredUnavailable(str(err)) from err
    key = cache_key(root, dict(config.values), account)
    path = (cache or cache_dir()) / f"declared-{key[:32]}.json"
    document = _read_cache(path)
    cached = document is not None
    if document is None:
        document = json.loads(json.dumps(export_document(root, stack, account), default=str))  # assets as text
        _write_cache(path, document)
    source = (
        f"the program in {root} under mocks with Pulumi.{stack}.yaml{' (cached)' if cached else ''}: the working "
        "copy, which may differ from what was deployed"
    )
    return from_export(document, function_name, source, deployed=False, placeholders=placeholders(document))


def placeholders(document: dict[str, Any]) -> set[str]:
    """What the mocks invented: every resource's id and the outputs that are not among its inputs (its
    name, ARN, ...). A declared value that still holds one after the stack's outputs are put in place of
    the references it makes (drill/investigator/declared.py `refs`) is not compared: it is not known."""
    found: set[str] = set()
    for resource in (document.get("deployment") or {}).get("resources") or []:
        inputs = resource.get("inputs") or {}
        found |= {str(resource["id"])} if resource.get("id") else set()
        found |= {v for k, v in (resource.get("outputs") or {}).items() if k not in inputs and isinstance(v, str)}
    return {p for p in found if len(p) >= MIN_PLACEHOLDER}


MIN_PLACEHOLDER = 8  # shorter mock values ("x-id") could appear inside real values by chance


def _read_cache(path: Path) -> dict[str, Any] | None:
    """The cached document, or None when there is none or it cannot be read (computed again, never fatal)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _write_cache(path: Path, document: dict[str, Any]) -> None:
    """Write whole or not at all: drills running at once share the cache, and a reader must never see half a
    file (a temporary file in the same folder, then an atomic rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(document), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:  # an unwritable cache costs the next run seconds, nothing else
        pass
