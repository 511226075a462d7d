"""One kept Redis connection that reports a drop instead of hiding it.

redis-py retries and reconnects silently by default, which would hide exactly the failure the
redis check exists to notice (a dropped connection). Here every command runs on one
connection without retries; an error closes it, and the next use opens a fresh one, so the
link heals by itself as soon as the server is back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supervisor.clients.redis import redis_client, redis_errors
from supervisor.core.redaction import redact_text

if TYPE_CHECKING:
    import redis.asyncio as aioredis

__all__ = ["RedisLink", "redis_errors"]


class RedisLink:
    def __init__(self, url: str, timeout_s: float, client_name: str = "soulfra-supervisor"):
        self.url = url
        self.timeout_s = timeout_s
        self.client_name = client_name
        self.client: aioredis.Redis | None = None
        self.connects = 0  # how many connections this link has opened (1 + reconnects)
        self.had_connection = False

    @property
    def safe_url(self) -> str:
        return redact_text(self.url)

    async def get(self) -> aioredis.Redis:
        if self.client is None:
            self.client = redis_client(self.url, timeout_s=self.timeout_s, retries=False,
                                       client_name=self.client_name)
            await self.client.initialize()
            self.connects += 1
        return self.client

    async def execute(self, *args: Any) -> Any:
        """Run one command; any connection error drops the connection before it propagates."""
        client = await self.get()
        try:
            result = await client.execute_command(*args)  # type: ignore[no-untyped-call]
        except BaseException:
            await self.drop()
            raise
        self.had_connection = True
        return result

    async def drop(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                await client.aclose(close_connection_pool=True)
            except (redis_errors()[0], OSError):
                pass

    async def reconnect(self) -> None:
        """Throw the connection away and open a new one now (for a reconnect recovery step)."""
        await self.drop()
        await self.execute("PING")


async def length_of(link: RedisLink, key: str) -> int:
    """Length of a list, stream, set, sorted set or hash; a number stored in a string."""
    kind = await link.execute("TYPE", key)
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    command = {"list": "LLEN", "stream": "XLEN", "set": "SCARD", "zset": "ZCARD",
               "hash": "HLEN"}.get(kind)
    if kind == "none":
        return 0
    if command is None:
        value = await link.execute("GET", key)
        return int(float(value)) if value is not None else 0
    return int(await link.execute(command, key))


async def number_at(link: RedisLink, key: str) -> float | None:
    """A counter's value: a string holding a number, else the key's length."""
    kind = await link.execute("TYPE", key)
    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
    if kind == "none":
        return None
    if kind == "string":
        return float(await link.execute("GET", key))
    return float(await length_of(link, key))
