"""Redis clients: every one the daemon makes comes from `redis_client`, in one of two modes.

- Retrying (redis-py's default): the daemon's own connections, one client per URL, shared by
  strategies (failover, reconnect_redis) and the recovery lease. redis-py reconnects lazily;
  `RedisConnections.reset` is for what it cannot notice by itself (a half-open socket after the
  server vanished, a server that came back with other settings).
- Not retrying, one connection: for checks, which must *see* a dropped connection instead of
  having it hidden by a silent retry (redis_link.RedisLink).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from supervisor.core.redaction import redact_text

if TYPE_CHECKING:
    import redis.asyncio as aioredis


def redis_errors() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """(RedisError, its ConnectionError, its TimeoutError). redis-py costs ~6 MB and 0.1 s to
    import: only a daemon with a Redis check, step or lease pays for it, when first used."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import RedisError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return RedisError, RedisConnectionError, RedisTimeoutError


def redis_client(url: str, *, timeout_s: float, retries: bool = True,
                 client_name: str | None = None) -> aioredis.Redis:
    import redis.asyncio as aioredis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    if retries:
        return aioredis.Redis.from_url(url, socket_timeout=timeout_s,
                                       socket_connect_timeout=timeout_s, decode_responses=True,
                                       client_name=client_name)
    return aioredis.Redis.from_url(
        url, single_connection_client=True, retry=Retry(NoBackoff(), 0),
        socket_timeout=timeout_s, socket_connect_timeout=timeout_s, health_check_interval=0,
        client_name=client_name)


class RedisConnections:
    def __init__(self, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        self._clients: dict[str, aioredis.Redis] = {}

    def get(self, url: str) -> aioredis.Redis:
        client = self._clients.get(url)
        if client is None:
            client = redis_client(url, timeout_s=self.timeout_s)
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
