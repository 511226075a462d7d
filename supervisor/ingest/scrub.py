"""Scrubbing before anything is stored: values under keys named like secrets (passwords,
tokens, cookies, Authorization, session ids, card fields) become "***", card-like numbers
(a card network's prefix and length, passing the Luhn check) inside any string too, and every
string goes
through the daemon's own redaction (URL passwords, bearer tokens, key=value secrets).

It walks the whole event, so request data, headers, extra, contexts, breadcrumbs, tags and
frame variables are covered without naming each place.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from supervisor.core.redaction import MASK, redact_text, secret_key

FILTERED = MASK  # the one mask of the whole daemon
MAX_DEPTH = 24

_SENSITIVE = re.compile(
    r"pass(?:word|wd|phrase)?|secret|token|api[-_]?key|apikey|access[-_]?key|cookie|"
    r"session|csrf|xsrf|credential|private[-_]?key|card|cvv|cvc|ssn|iban|"
    r"^auth$|authori[sz]ation|^x[-_]auth|[-_]auth$|^proxy[-_]authorization$|dsn",
    re.IGNORECASE)
# Keys of the event's own structure that look sensitive by name but hold nothing secret.
_SAFE = frozenset({"session_id_length"})
_CARD = re.compile(r"(?<![\w.])(?:\d[ -]?){12,18}\d(?![\w.])")  # not inside ids or hex


@functools.lru_cache(maxsize=4096)  # an event's keys repeat (breadcrumbs, frames)
def sensitive_key(key: str) -> bool:
    """Ours, and every key the daemon's `redact` masks (so that this is a superset of it)."""
    return key not in _SAFE and (bool(_SENSITIVE.search(key)) or secret_key(key))


def _luhn(digits: str) -> bool:
    total, odd = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if odd:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        odd = not odd
    return total % 10 == 0


# Issuer prefixes and lengths of the card networks: a 19-digit timestamp or order number that
# happens to pass the Luhn check (one in ten do) is not a card.
_NETWORKS = re.compile(r"4\d{12}(?:\d{3}|\d{6})?|(?:5[1-5]\d\d|222[1-9]|22[3-9]\d|2[3-6]\d\d|"
                       r"27[01]\d|2720)\d{12}|3[47]\d{13}|(?:6011|65\d\d|64[4-9]\d)\d{12,15}|"
                       r"3(?:0[0-5]|[68]\d)\d{11,16}|35(?:2[89]|[3-8]\d)\d{12,15}|62\d{14,17}")


def card_like(digits: str) -> bool:
    return _NETWORKS.fullmatch(digits) is not None and _luhn(digits)


def _cards(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        return FILTERED if card_like(re.sub(r"[ -]", "", m.group(0))) else m.group(0)
    return _CARD.sub(repl, text)


def scrub_text(text: str) -> str:
    if len(text) >= 13:
        text = _cards(text)
    return redact_text(text)


def scrub(value: Any, depth: int = 0) -> Any:
    """A scrubbed copy of JSON-like data."""
    if isinstance(value, str):
        return scrub_text(value)
    if depth > MAX_DEPTH:
        return FILTERED if isinstance(value, dict | list) else value
    if isinstance(value, dict):
        return {k: FILTERED if isinstance(k, str) and sensitive_key(k)
                and value[k] not in (None, "", [], {}) else scrub(value[k], depth + 1)
                for k in value}
    if isinstance(value, list):
        return [_pair(v, depth) if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str)
                else scrub(v, depth + 1) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**12:
        return FILTERED if card_like(str(value)) else value
    return value


def _pair(pair: list[Any], depth: int) -> list[Any]:
    """Headers and query strings arrive as [name, value] pairs too."""
    name, val = pair
    if sensitive_key(name):
        return [name, FILTERED]
    return [scrub_text(name), scrub(val, depth + 1)]
