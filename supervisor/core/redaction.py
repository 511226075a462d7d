"""Redaction: nothing secret reaches a log, the store, the API or an alert.

`redact_text` masks secrets inside free text (passwords in URLs, bearer tokens, webhook URLs,
`key=value` pairs named like secrets); `redact` walks JSON-like data and also masks every value
whose key is named like a secret.
"""

from __future__ import annotations

import functools
import re
from typing import Any

MASK = "***"

SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|apikey|auth(orization)?|credential|"
    r"private[_-]?key|session|cookie|signature|webhook[_-]?url|dsn)", re.IGNORECASE)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # scheme://user:password@host  → scheme://user:***@host
    (re.compile(r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s@/]+(?=@)", re.IGNORECASE),
     r"\g<pre>" + MASK),
    # Slack and Discord webhook URLs carry their secret in the path
    (re.compile(r"(?P<pre>https?://hooks\.slack(?:-gov)?\.com/)[^\s\"'<>]+", re.IGNORECASE),
     r"\g<pre>" + MASK),
    (re.compile(r"(?P<pre>https?://(?:[a-z]+\.)?discord(?:app)?\.com/api/webhooks/)"
                r"[^\s\"'<>]+", re.IGNORECASE), r"\g<pre>" + MASK),
    # Authorization: Bearer xyz / Basic xyz / token xyz
    (re.compile(r"(?P<pre>\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE),
     r"\g<pre>" + MASK),
    # key=value, key: value, "key": "value" where the key is named like a secret
    (re.compile(r"(?P<pre>[\"']?\b[\w.-]*(?:pass(?:word|wd)?|secret|token|api[_-]?key|apikey|"
                r"signature|credential)[\w.-]*[\"']?\s*[=:]\s*[\"']?)(?!\*\*\*)"
                r"[^\s\"'&,;}]+", re.IGNORECASE), r"\g<pre>" + MASK),
]


# Cheap substring tests that must hold for each pattern to match: most text holds no secret,
# and skipping a regex that cannot match keeps redaction affordable in an error storm.
_GUARDS: list[tuple[str, ...]] = [
    ("://",),
    ("hooks.slack",),
    ("discord",),
    ("bearer", "basic", "token"),
    ("pass", "secret", "token", "api", "signature", "credential"),
]


# Every guard once: most strings (an error storm's, an SDK event's thousands) hold none of
# them and leave at the first test (substring tests are far cheaper than a regex here).
_ALL_GUARDS = tuple(sorted({n for g in _GUARDS for n in g}))


def redact_text(text: str) -> str:
    lowered = text.lower()
    if not any(n in lowered for n in _ALL_GUARDS):
        return text
    for (pattern, replacement), needles in zip(_PATTERNS, _GUARDS, strict=True):
        if any(n in lowered for n in needles):
            text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=4096)  # the same few keys come again and again
def secret_key(key: str) -> bool:
    return SECRET_KEY.search(key) is not None


def redact(value: Any, _key: str | None = None) -> Any:
    """A copy of JSON-like data with secrets masked, by key name and inside strings."""
    if _key is not None and secret_key(_key) and value not in (None, "", [], {}):
        if isinstance(value, (str, int, float)):
            return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
