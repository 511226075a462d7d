"""The shape of a JSON body (path → type), and how one shape drifted from another.

A contract check remembers the shape of the last body that satisfied it; when a body breaks
the contract, the drift (fields added, removed, or of another type) says what changed.
"""

from __future__ import annotations

from typing import Any

MAX_PATHS = 500


def shape(data: Any, prefix: str = "$", out: dict[str, str] | None = None) -> dict[str, str]:
    """{"$.a": "object", "$.a.b": "integer", "$.items[*]": "object", ...} (bounded in size)."""
    out = {} if out is None else out
    if len(out) >= MAX_PATHS:
        return out
    out[prefix] = _type(data)
    if isinstance(data, dict):
        for key, value in data.items():
            shape(value, f"{prefix}.{key}", out)
    elif isinstance(data, list):
        for item in data[:20]:  # the items' union is enough to see a change
            shape(item, f"{prefix}[*]", out)
    return out


def _type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def drift(before: dict[str, str], now: dict[str, str]) -> dict[str, Any]:
    """What changed from `before` to `now`; empty when nothing did."""
    removed = sorted(p for p in before if p not in now)
    added = sorted(p for p in now if p not in before)
    changed = {p: f"{before[p]} -> {now[p]}" for p in sorted(before)
               if p in now and before[p] != now[p]
               and {before[p], now[p]} != {"integer", "number"}}
    out: dict[str, Any] = {}
    if removed:
        out["removed"] = removed[:20]
    if added:
        out["added"] = added[:20]
    if changed:
        out["changed"] = dict(list(changed.items())[:20])
    return out


def describe(d: dict[str, Any]) -> str:
    parts = []
    if d.get("removed"):
        parts.append("removed " + ", ".join(d["removed"][:5]))
    if d.get("added"):
        parts.append("added " + ", ".join(d["added"][:5]))
    if d.get("changed"):
        parts.append("changed " + ", ".join(f"{p} ({t})" for p, t in
                                            list(d["changed"].items())[:5]))
    return "; ".join(parts)
