"""One aiohttp client session shared by every outgoing HTTP call of the daemon."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp

_session: aiohttp.ClientSession | None = None


def shared_session() -> aiohttp.ClientSession:
    """The process-wide session; fresh connections so a check sees what a new client sees."""
    global _session
    if _session is None or _session.closed:
        connector = aiohttp.TCPConnector(force_close=True, limit=0, ttl_dns_cache=300)
        _session = aiohttp.ClientSession(connector=connector, trust_env=False)
    return _session


async def close_shared_session() -> None:
    global _session
    if _session is not None and not _session.closed:
        await _session.close()
    _session = None


def conflicting_credentials(url: str | None, headers: dict[str, str]) -> str | None:
    """aiohttp refuses a request with both user:password in the URL and an Authorization
    header; say so when the file is read instead of failing at every check."""
    if url is None or not any(k.lower() == "authorization" for k in headers):
        return None
    parts = urlsplit(url)
    if parts.username or parts.password:
        return ("headers.Authorization cannot be combined with credentials in the url "
                "(user:password@); keep one of them")
    return None


async def call_hook(method: str, url: str, headers: dict[str, str],
                    body: dict[str, Any] | None, timeout_ms: float) -> tuple[int, str]:
    """One HTTP call (the webhook strategy, reconnect_redis hooks): (status, text), or raises."""
    async with shared_session().request(
            method, url, json=body if method != "GET" else None, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_ms / 1000)) as resp:
        return resp.status, await resp.text(errors="replace")
