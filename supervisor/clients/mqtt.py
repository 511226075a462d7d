"""MQTT helpers shared by the mqtt check, the failover strategy and the push listener."""

from __future__ import annotations

from urllib.parse import urlsplit

from supervisor.core.redaction import redact_text


def parse_broker(url: str) -> tuple[str, int, str | None, str | None]:
    """mqtt://[user:password@]host[:port] → (host, port, user, password)."""
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"broker must look like mqtt://host:1883, got {redact_text(url)!r}")
    return parts.hostname, parts.port or 1883, parts.username, parts.password
