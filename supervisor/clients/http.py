"""The daemon's outgoing HTTP: one aiohttp session per daemon (checks, alerts, strategies),
made on first use and closed when the daemon stops."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import aiohttp


class HttpClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """Fresh connections (force_close), so that a check sees what a new client sees."""
        if self._session is None or self._session.closed:
            import aiohttp  # every check type imports this module: `validate` must stay light

            connector = aiohttp.TCPConnector(force_close=True, limit=0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


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


async def call_hook(http: HttpClient, method: str, url: str, headers: dict[str, str],
                    body: dict[str, Any] | None, timeout_ms: float) -> tuple[int, str]:
    """One HTTP call (the webhook strategy, reconnect_redis hooks): (status, text), or raises."""
    import aiohttp

    async with http.session().request(
            method, url, json=body if method != "GET" else None, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout_ms / 1000)) as resp:
        return resp.status, await resp.text(errors="replace")
