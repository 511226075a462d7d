"""One JSON decoder for everything the daemon is sent: API bodies, MQTT heartbeats, services.json.

The standard library's `json.loads` is fine with well-formed input and fails badly with hostile
input: nesting 30,000 deep raises RecursionError (a 500 and a traceback where the client made the
mistake), a 5,000-digit integer raises a bare ValueError without a position, `1e400` silently
becomes infinity, duplicate keys are silently merged (the last one wins: `{"dryRun": true,
"dryRun": false}` restarted a service) and a lone surrogate `"\\ud800"` decodes to a string that
cannot be written anywhere afterwards. `decode` refuses each of these with a `JSONProblem` that
names the path of the value at fault (`errorMonitoring.services.api.interval`), so every caller
can answer "field: message" instead of crashing.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 64
MAX_DIGITS = 30  # an integer longer than this is no count, port or duration anyone means
SHOWN = 60  # characters of a key or value shown in a message

# A string, or an unterminated one to the end (linear time whatever the input).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JSONProblem(ValueError):
    """Unusable JSON; `path` names the value at fault (empty for the document as a whole)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def shorten(text: str, limit: int = SHOWN) -> str:
    """A key or value fit for a message: a 1 MB name is not echoed whole."""
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    key = shorten(key)
    return f"{path}.{key}" if path else key


class _Flagged:
    """A value the decoder could read but must refuse; reported with its path afterwards."""

    def __init__(self, message: str) -> None:
        self.message = message


class _Duplicate(dict[str, Any]):
    def __init__(self, pairs: list[tuple[str, Any]], key: str) -> None:
        super().__init__(pairs)
        self.key = key


class _Hooks:
    """json.loads hooks of one decode; `flagged` says whether the tree needs a walk for paths."""

    def __init__(self) -> None:
        self.flagged = False

    def object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    self.flagged = True
                    return _Duplicate(pairs, key)
                seen.add(key)
        return out

    def integer(self, text: str) -> Any:
        digits = len(text.lstrip("-"))
        if digits > MAX_DIGITS:
            return self.flag(f"a number with {digits} digits is out of range")
        return int(text)

    def real(self, text: str) -> Any:
        value = float(text)
        if not math.isfinite(value):
            return self.flag(f"{shorten(text, 20)} is out of range")
        return value

    def constant(self, name: str) -> Any:
        return self.flag(f"{name} is not a JSON number")

    def flag(self, message: str) -> _Flagged:
        self.flagged = True
        return _Flagged(message)


def _looks_utf16(head: bytes) -> bool:
    """`{` or whitespace next to a NUL: UTF-16 without a byte order mark."""
    return len(head) == 2 and 0 in head and bool(set(head) & set(b'{[ \t\r\n"'))


def text_of(raw: bytes | str, what: str = "body") -> str:
    """Strict UTF-8 (an optional UTF-8 byte order mark is dropped), or a JSONProblem saying why."""
    if isinstance(raw, str):
        return raw.removeprefix("\ufeff")
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff") or _looks_utf16(raw[:2]):
        raise JSONProblem("", f"{what} is UTF-16 or UTF-32; it must be UTF-8")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise JSONProblem("", f"{what} is not UTF-8: byte 0x{raw[exc.start]:02x} at offset "
                              f"{exc.start} (line {line})") from None


def depth_of(text: str) -> int:
    """The deepest nesting of arrays and objects, strings skipped; linear, no recursion."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    steps = (1 if c in "[{" else -1 for c in brackets)
    return max(accumulate(steps), default=0)


def decode(raw: bytes | str, *, what: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON text, refusing what the standard decoder gets wrong (see the module doc)."""
    text = text_of(raw, what)
    depth = depth_of(text) if text.count("[") + text.count("{") > max_depth else 0
    if depth > max_depth:
        raise JSONProblem("", f"{what} is nested {depth} deep; at most {max_depth} levels")
    hooks = _Hooks()
    try:
        data = json.loads(text, object_pairs_hook=hooks.object, parse_int=hooks.integer,
                          parse_float=hooks.real, parse_constant=hooks.constant)
    except json.JSONDecodeError as exc:
        raise JSONProblem("", f"{what} is not valid JSON: line {exc.lineno} column "
                              f"{exc.colno}: {exc.msg}") from None
    except RecursionError:  # the depth scan above makes this unreachable; belt and braces
        raise JSONProblem("", f"{what} is nested too deep") from None
    # Strict UTF-8 never yields a surrogate: only a \\uD800-\\uDFFF escape can.
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if hooks.flagged or surrogates:
        _check(data, "", surrogates)
    return data


def _check(value: Any, path: str, surrogates: bool) -> None:
    """Raise for the first refused value, by its path (bounded recursion: depth is checked)."""
    if isinstance(value, _Flagged):
        raise JSONProblem(path, value.message)
    if isinstance(value, str):
        if surrogates:
            _check_text(value, path)
    elif isinstance(value, dict):
        if isinstance(value, _Duplicate):
            raise JSONProblem(join(path, value.key), "duplicate key (each key may appear once)")
        for key, item in value.items():
            if surrogates:
                _check_text(key, path)
            _check(item, join(path, key), surrogates)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, join(path, i), surrogates)


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JSONProblem(path, "has an unpaired surrogate escape (\\ud800-\\udfff)") from None
