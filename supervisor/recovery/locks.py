"""Who may recover a service right now. Local by default; with several supervisor hosts
watching the same services, a Redis lease stands behind the same two calls."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Protocol

from loguru import logger

from supervisor.clients.redis import redis_client, redis_errors
from supervisor.core.redaction import redact_text


class RecoveryLock(Protocol):
    async def acquire(self, service: str, holder: str) -> bool:
        """Take the lock without waiting; False when someone else holds it."""

    async def release(self, service: str, holder: str) -> None: ...

    async def close(self) -> None: ...


class LocalLock:
    def __init__(self) -> None:
        self._held: dict[str, str] = {}

    async def acquire(self, service: str, holder: str) -> bool:
        if service in self._held:
            return False
        self._held[service] = holder
        return True

    async def release(self, service: str, holder: str) -> None:
        if self._held.get(service) == holder:
            del self._held[service]

    async def close(self) -> None:
        self._held.clear()


# Only the holder may extend or delete its lease (compare and act in one step).
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end")
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")


class RedisLease:
    """A lease per service in Redis (SET NX PX), renewed while the recovery runs, so that a
    holder that dies frees the service after `ttl_ms` by itself.

    When Redis cannot be reached the lease falls back to the local lock: a Redis outage must
    not stop every repair (Redis may be the very thing that needs one); the worst case is two
    hosts repairing the same service at once, which is logged.
    """

    def __init__(self, url: str, ttl_ms: float = 30000, prefix: str = "soulfra:recovery:",
                 owner: str | None = None) -> None:
        self.url = url
        self.ttl_ms = int(ttl_ms)
        self.prefix = prefix
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.local = LocalLock()
        self._client = redis_client(url, timeout_s=2)
        self._renewers: dict[str, asyncio.Task[None]] = {}

    def _key(self, service: str) -> str:
        return self.prefix + service

    def _value(self, holder: str) -> str:
        return f"{self.owner}:{holder}"

    async def holder_of(self, service: str) -> str | None:
        value = await self._client.get(self._key(service))
        return None if value is None else str(value)

    async def acquire(self, service: str, holder: str) -> bool:
        if not await self.local.acquire(service, holder):
            return False
        try:
            taken = await self._client.set(self._key(service), self._value(holder), nx=True,
                                           px=self.ttl_ms)
        except (redis_errors()[0], OSError) as exc:
            logger.warning("recovery lease for {}: Redis {} unreachable ({}); using the local "
                           "lock only", service, redact_text(self.url), exc)
            return True
        if not taken:
            await self.local.release(service, holder)
            return False
        self._renewers[service] = asyncio.create_task(self._renew(service, holder),
                                                      name=f"lease:{service}")
        return True

    async def _renew(self, service: str, holder: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                kept = await self._client.eval(_RENEW, 1, self._key(service),
                                               self._value(holder), self.ttl_ms)
            except (redis_errors()[0], OSError) as exc:
                logger.warning("recovery lease for {} not renewed: {}", service, exc)
                continue
            if not kept:
                logger.warning("recovery lease for {} was lost (expired or taken over)",
                               service)
                return

    async def release(self, service: str, holder: str) -> None:
        task = self._renewers.pop(service, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.local.release(service, holder)
        try:
            await self._client.eval(_RELEASE, 1, self._key(service), self._value(holder))
        except (redis_errors()[0], OSError) as exc:
            logger.warning("recovery lease for {} not released (it expires by itself): {}",
                           service, exc)

    async def close(self) -> None:
        for task in self._renewers.values():
            task.cancel()
        await asyncio.gather(*self._renewers.values(), return_exceptions=True)
        self._renewers.clear()
        await self._client.aclose()
