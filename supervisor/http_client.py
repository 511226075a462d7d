"""One aiohttp client session shared by every outgoing HTTP call of the daemon."""

from __future__ import annotations

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
