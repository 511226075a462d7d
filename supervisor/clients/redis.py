"""The daemon's own Redis connections, one client per URL, that can be dropped and made anew.

Strategies (failover, reconnect_redis) share these instead of opening a connection per run.
redis-py reconnects lazily; `reset` is for the case it cannot notice by itself (a half-open
socket after the server vanished, a server that came back with other settings).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from loguru import logger

from supervisor.core.redaction import redact_text


class RedisConnections:
    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._clients: dict[str, aioredis.Redis] = {}

    def get(self, url: str) -> aioredis.Redis:
        client = self._clients.get(url)
        if client is None:
            client = aioredis.Redis.from_url(
                url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s,
                decode_responses=True)
            self._clients[url] = client
        return client

    async def reset(self, url: str | None = None) -> list[str]:
        """Close the clients (all, or the one for `url`); the next `get` connects anew."""
        urls = [url] if url is not None else list(self._clients)
        closed = []
        for u in urls:
            client = self._clients.pop(u, None)
            if client is None:
                continue
            try:
                await client.aclose()
            except Exception as exc:  # a dead socket may fail to close; it is dropped anyway
                logger.debug("closing redis client {}: {}", redact_text(u), exc)
            closed.append(redact_text(u))
        return closed

    async def close(self) -> None:
        await self.reset()
