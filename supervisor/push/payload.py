"""Validation of what services push: a heartbeat body is a flat JSON object of counters."""

from __future__ import annotations

import json
import math
from typing import Any

from supervisor.core.strict_json import JSONProblem, decode

MAX_COUNTERS = 64
MAX_MESSAGE = 500


class BadPayload(ValueError):
    """A pushed body is unusable; `field` names where (empty for the body as a whole)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def parse_heartbeat(raw: bytes | str | None, what: str = "body"
                    ) -> tuple[dict[str, float], str | None]:
    """Empty, or {"<counter>": <number>, ..., "message": "<text>"} → (counters, message)."""
    if raw is None or not raw.strip():
        return {}, None
    try:
        data: Any = decode(raw, what=what)
    except JSONProblem as exc:
        raise BadPayload(exc.path, exc.message) from None
    return parse_counters(data)


def parse_counters(data: Any) -> tuple[dict[str, float], str | None]:
    if not isinstance(data, dict):
        raise BadPayload("", f"body must be a JSON object of counters, got {type(data).__name__}")
    if len(data) > MAX_COUNTERS:
        raise BadPayload("", f"at most {MAX_COUNTERS} counters, got {len(data)}")
    message = data.get("message")
    if message is not None and (not isinstance(message, str) or len(message) > MAX_MESSAGE):
        raise BadPayload("message", f"must be a string of at most {MAX_MESSAGE} characters")
    counters: dict[str, float] = {}
    for key, value in data.items():
        if key == "message":
            continue
        if not key or len(key) > 64:
            raise BadPayload(key[:64], "counter names must have 1 to 64 characters")
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise BadPayload(key, f"must be a finite number, got {json.dumps(value)[:40]}")
        counters[key] = float(value)
    return counters, message
