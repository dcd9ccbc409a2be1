"""Policy documents as they arrive (dicts or JSON text), their statements, and IAM's wildcard matching."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters, `?` one character; nothing else is special.
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(f"^{body}$", flags)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return bool(_glob(pattern, ignore_case).match(value))


def load_document(document: Any) -> dict[str, Any]:
    """Policy documents arrive as dicts (boto3 decodes IAM's) or JSON strings (S3)."""
    if isinstance(document, str):
        document = json.loads(document)
    return document if isinstance(document, dict) else {}


def statements(document: Any) -> list[dict[str, Any]]:
    return [s for s in as_list(load_document(document).get("Statement")) if isinstance(s, dict)]


def without_statements(document: Any, drop: Iterable[int]) -> dict[str, Any] | None:
    """The policy minus the statements at the given indexes; None when nothing would be left."""
    doc = load_document(document)
    dropped = set(drop)
    kept = [s for i, s in enumerate(statements(doc)) if i not in dropped]
    if not kept:
        return None
    return {**doc, "Statement": kept}
