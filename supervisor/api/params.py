"""Parsing of query strings and bodies, with errors that name the field."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ValidationError

from supervisor.api.context import json_error
from supervisor.core.strict_json import JSONProblem, decode, shorten

# ASCII digits only: `\d` would take "١٢" (Arabic-Indic digits) as a number.
_DURATION = re.compile(r"^\s*([0-9]{1,12}(?:\.[0-9]{1,9})?)\s*(ms|s|m|h|d|w)\s*$")
_INTEGER = re.compile(r"^-?[0-9]{1,15}$")
# A body is JSON, sent as such: a cross-site form or fetch() can send text/plain without asking
# the browser first, application/json it cannot (see supervisor/api/csrf.py).
JSON_TYPES = ("application/json",)
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


def _shown(text: str) -> str:
    return repr(shorten(text, 40))


def parse_time(field: str, text: str | None, now: float | None = None) -> float | None:
    """A relative duration back from now ('1h') or an ISO-8601 time → epoch seconds."""
    if text is None or text == "":
        return None
    now = time.time() if now is None else now
    try:
        back = parse_duration(text)
    except ValueError:
        pass
    else:
        if back > now:
            raise BadParam(field, f"{_shown(text)} reaches back before 1970")
        return now - back
    try:
        if not text.isascii():
            raise ValueError(text)
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParam(field, f"{_shown(text)} is neither a duration (30s, 15m, 1h, 7d) nor "
                              "an ISO-8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def parse_int(field: str, text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None or text == "":
        return default
    if not _INTEGER.match(text):  # int() would take " 1_0 " and Unicode digits
        raise BadParam(field, f"{_shown(text)} is not a whole number (digits 0-9)")
    value = int(text)
    if not lo <= value <= hi:
        raise BadParam(field, f"must be between {lo} and {hi}")
    return value


def body_problem(status: int, field: str, message: str) -> web.Response:
    text = f"invalid request body: {field}: {message}" if field else f"invalid request " \
        f"body: {message}"
    return json_error(status, text, field=field,
                      problems=[{"field": field, "message": message}])


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The body as JSON, or a web.Response (400/413/415) that says what is wrong with it.

    Every route that takes a body reads it here: the Content-Type must be application/json
    (charset, if given, utf-8), the bytes strict UTF-8, and the JSON is decoded by
    supervisor.core.strict_json (depth limit, no duplicate keys, no out-of-range numbers). An
    empty body is `None` when `optional`, else an error.
    """
    raw = await request.read()  # over client_max_size: 413, by the json_errors middleware
    if not raw.strip():
        if optional:
            return None
        return body_problem(400, "", "a JSON object is required")
    mime = request.content_type.lower()
    if mime not in JSON_TYPES:
        return json_error(415, f"Content-Type must be application/json, not {mime!r}",
                          field="Content-Type", hint="send -H 'Content-Type: application/json'")
    charset = (request.charset or "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        return json_error(415, f"charset {charset[:40]!r} is not supported; send UTF-8",
                          field="Content-Type")
    try:
        data = decode(raw, what="body")
    except JSONProblem as exc:
        return body_problem(400, exc.path, exc.message)
    if data is None:  # `null` is not "no body"
        return body_problem(422, "", "must be a JSON object, not null")
    return data


async def read_body(request: web.Request, model: type[BaseModel], *,
                    optional: bool = False) -> BaseModel | web.Response:
    """Decode and validate a JSON body; a problem becomes a 4xx response naming the field.

    With `optional`, an empty body is the model's defaults."""
    data = await read_json(request, optional=optional)
    if isinstance(data, web.Response):
        return data
    if data is None:
        data = {}
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
