"""Parsing of query strings and bodies, with errors that name the field."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from supervisor.api.context import json_error

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class BadParam(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def response(self) -> web.Response:
        return json_error(422, f"invalid {self.field}", field=self.field,
                          problems=[{"field": self.field, "message": self.message}])


def parse_duration(text: str) -> float:
    """'30s', '15m', '1h', '7d' → seconds."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_time(field: str, text: str | None, now: float | None = None) -> float | None:
    """A relative duration back from now ('1h') or an ISO-8601 time → epoch seconds."""
    if text is None or text == "":
        return None
    now = time.time() if now is None else now
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParam(field, f"{text!r} is neither a duration (30s, 15m, 1h, 7d) nor an "
                              "ISO-8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_int(field: str, text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParam(field, f"{text!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise BadParam(field, f"must be between {lo} and {hi}")
    return value


async def read_body(request: web.Request, model: type[BaseModel]) -> BaseModel | web.Response:
    """Decode and validate a JSON body; a problem becomes a 400/422 response naming the field."""
    try:
        data: Any = await request.json()
    except ValueError:
        return json_error(400, "body is not valid JSON")
    if not isinstance(data, dict):
        return json_error(422, "body must be a JSON object",
                          problems=[{"field": "", "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [{"field": ".".join(str(p) for p in e["loc"]),
                     "message": "unknown field" if e["type"] == "extra_forbidden"
                     else str(e["msg"])} for e in exc.errors()]
        return json_error(422, "invalid request body: " + ", ".join(
            f"{p['field']}: {p['message']}" for p in problems), problems=problems)
