"""A small JSON path: `$.a.b[0].c` or `a.b.0.c` into decoded JSON. No filters, no wildcards."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]|\[['\"]([^'\"]+)['\"]\]")
MISSING = object()


def parse(path: str) -> list[str | int]:
    """Split a path into keys and indexes; raises ValueError on what it cannot read."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    parts: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"cannot read JSON path {path!r} at position {pos}")
        key, index, quoted = m.groups()
        parts.append(int(index) if index is not None else (quoted if quoted is not None
                                                           else key))
        pos = m.end()
    return parts


def lookup(data: Any, path: str | list[str | int]) -> Any:
    """The value at `path`, or MISSING. A plain number also indexes a list (`items.0`)."""
    parts = parse(path) if isinstance(path, str) else path
    cur = data
    for part in parts:
        if isinstance(cur, dict):
            key = str(part)
            if key not in cur:
                return MISSING
            cur = cur[key]
        elif isinstance(cur, list):
            try:
                idx = int(part)
            except ValueError:
                return MISSING
            if not -len(cur) <= idx < len(cur):
                return MISSING
            cur = cur[idx]
        else:
            return MISSING
    return cur
