"""Sentry envelopes: a JSON header line, then items, each a JSON header line and a payload.

A payload is `length` bytes when the item header says so, else the rest of its line. A bad
item (a header that is not JSON, a payload shorter than its length) is recorded as a problem
and parsing goes on with the next line, so one bad item never loses the rest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from supervisor.ingest.limits import IngestError


@dataclass(slots=True)
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass(slots=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _json_object(line: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_envelope(data: bytes, max_items: int = 1000) -> Envelope:
    """Split an envelope; IngestError(400) only when its header line is unusable."""
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    headers = _json_object(first.strip()) if first.strip() else {}
    if headers is None:
        raise IngestError(400, "envelope header (first line) is not a JSON object",
                          "malformed")
    env = Envelope(headers)
    pos, n = (len(data) if end < 0 else end + 1), len(data)
    while pos < n:
        end = data.find(b"\n", pos)
        line = data[pos:] if end < 0 else data[pos:end]
        pos = n if end < 0 else end + 1
        if not line.strip():
            continue
        item_headers = _json_object(line)
        if item_headers is None or not isinstance(item_headers.get("type"), str):
            env.problems.append(f"item {len(env.items) + len(env.problems)}: header is not a "
                                "JSON object with a type")
            continue
        length = item_headers.get("length")
        if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
            payload = data[pos:pos + length]
            if len(payload) < length:
                env.problems.append(f"item {item_headers['type']}: payload shorter than its "
                                    f"length {length}")
                break
            pos += length
            if data[pos:pos + 1] == b"\n":
                pos += 1
        else:
            end = data.find(b"\n", pos)
            payload = data[pos:] if end < 0 else data[pos:end]
            pos = n if end < 0 else end + 1
        if len(env.items) >= max_items:
            env.problems.append(f"more than {max_items} items; the rest were ignored")
            break
        env.items.append(Item(item_headers["type"], item_headers, payload))
    return env


def event_from_json(payload: bytes) -> dict[str, Any]:
    """The JSON object of an event-like item; IngestError(400) naming what is wrong."""
    try:
        value = json.loads(payload)
    except ValueError as exc:
        raise IngestError(400, f"event is not valid JSON: {exc}", "malformed") from None
    if not isinstance(value, dict):
        raise IngestError(400, "event must be a JSON object", "malformed")
    return value
