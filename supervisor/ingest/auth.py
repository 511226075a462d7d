"""Which key a client sent: `X-Sentry-Auth` (or `Authorization: Sentry ...`), the
`sentry_key` query parameter, or the `dsn` in the envelope header, in that order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def parse_sentry_auth(header: str) -> dict[str, str]:
    """'Sentry sentry_key=abc, sentry_version=7' → {'sentry_key': 'abc', ...}."""
    text = header.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    out: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            out[name.strip().lower()] = value.strip()
    return out


def key_from_dsn(dsn: str) -> str | None:
    try:
        return urlsplit(dsn).username or None
    except ValueError:
        return None


def sent_key(headers: Mapping[str, str], query: Mapping[str, str],
             envelope_headers: Mapping[str, Any] | None = None) -> str | None:
    for name in ("X-Sentry-Auth", "Authorization"):
        value = headers.get(name, "")
        if value.strip()[:7].lower() == "sentry " or name == "X-Sentry-Auth":
            key = parse_sentry_auth(value).get("sentry_key")
            if key:
                return key
    if query.get("sentry_key"):
        return query["sentry_key"]
    dsn = (envelope_headers or {}).get("dsn")
    if isinstance(dsn, str):
        return key_from_dsn(dsn)
    return None
