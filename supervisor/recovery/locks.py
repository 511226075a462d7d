"""Who may recover a service right now, and for how long that stays true.

Every service has a local lock (one recovery per service on this node). A `shared` service of a
cluster (several nodes watch it) also needs the cluster's Redis lease, so that exactly one node
repairs it: the grant takes a fencing token (INCR of keys.fence_key) and sets keys.lease_key to
keys.lease_value(node, token) with SET NX PX in one Lua script; the holder renews it while the
recovery runs and re-checks it before every step (`still_ours`), so a holder that was frozen
(SIGSTOP, a VM pause, a long GC) and comes back after another node took over stops instead of
acting twice. A holder that dies frees the service when the lease expires.

Redis unreachable: a shared service is *not* recovered (a second node might be doing it); the
request is denied with `wait=True`, the manager asks again until Redis answers. Local services
never touch Redis, so a Redis outage does not stop their repairs.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger

from supervisor.clients.redis import redis_client, redis_errors
from supervisor.cluster import keys
from supervisor.config.settings import Settings
from supervisor.core.redaction import redact_text
from supervisor.core.tasks import cancel_and_wait
from supervisor.recovery.run import utc_clock


@dataclass(frozen=True)
class Grant:
    """A recovery's right to act: a local lock, or (token set) the cluster lease too."""

    service: str
    holder: str  # the recovery run's id
    node: str = ""
    token: int | None = None

    def describe(self) -> str:
        if self.token is None:
            return "local lock"
        return f"cluster lease of node {self.node}, token {self.token}"


@dataclass(frozen=True)
class Denied:
    reason: str
    wait: bool = False  # ask again later: another node holds the lease, or Redis is away


class LeaseLost(Exception):
    """Raised before a step when the grant no longer stands; the text says why."""


class RecoveryLock(Protocol):
    async def acquire(self, service: str, holder: str, *, shared: bool = False,
                      force: bool = False) -> Grant | Denied:
        """Take the lock without waiting (`force`: also when the cluster gave up on it)."""

    async def still_ours(self, grant: Grant) -> str | None:
        """None while the grant stands; otherwise why it does not (checked before a step)."""

    async def may_try(self, service: str) -> bool:
        """Worth asking again now (the lease is free and Redis answers)?"""

    async def release(self, grant: Grant) -> None: ...

    async def gave_up(self, service: str, reason: str, *, shared: bool) -> None:
        """This node gave up on the service: for a shared one, no other node starts a ladder
        of its own until `healthy`."""

    async def healthy(self, service: str, *, shared: bool) -> None:
        """The service is up again: a shared one may be recovered by any node again."""

    def summary(self) -> dict[str, Any]: ...

    async def close(self) -> None: ...


class LocalLock:
    def __init__(self) -> None:
        self._held: dict[str, str] = {}

    async def acquire(self, service: str, holder: str, *, shared: bool = False,
                      force: bool = False) -> Grant | Denied:
        if service in self._held:
            return Denied("another task holds this service's recovery")
        self._held[service] = holder
        return Grant(service, holder)

    async def still_ours(self, grant: Grant) -> str | None:
        return None if self._held.get(grant.service) == grant.holder else "local lock released"

    async def may_try(self, service: str) -> bool:
        return service not in self._held

    async def release(self, grant: Grant) -> None:
        if self._held.get(grant.service) == grant.holder:
            del self._held[grant.service]

    async def gave_up(self, service: str, reason: str, *, shared: bool) -> None:
        """One node: its own breaker (recovery/breaker.py) is all there is."""

    async def healthy(self, service: str, *, shared: bool) -> None:
        """One node: nothing shared to clear."""

    def summary(self) -> dict[str, Any]:
        return {"mode": "local", "held": sorted(self._held)}

    async def close(self) -> None:
        self._held.clear()


# Grant: a free lease gets the next fencing token; a taken one answers who holds it; a
# service another node gave up on (KEYS[3]) is not granted unless forced (ARGV[3] == '1').
_GRANT = ("local g = redis.call('get', KEYS[3]) "
          "if g and ARGV[3] ~= '1' then return {2, g} end "
          "local v = redis.call('get', KEYS[1]) "
          "if v then return {0, v} end "
          "local t = redis.call('incr', KEYS[2]) "  # the value is keys.lease_value(node, t)
          "redis.call('set', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2]) "
          "return {1, tostring(t)}")
# Only the holder may extend or delete its lease (compare and act in one step).
_RENEW = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
          "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end")
_RELEASE = ("if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('del', KEYS[1]) else return 0 end")


class ClusterLease:
    """The local lock for every service, plus the Redis lease with a fencing token for the
    shared ones (SOULFRA_CLUSTER_REDIS_URL, or the older SOULFRA_LOCK_REDIS_URL)."""

    def __init__(self, url: str, node: str, ttl_ms: float = 15000,
                 timeout_s: float = 2.0) -> None:
        self.url = url
        self.node = node
        self.ttl_ms = int(ttl_ms)
        self.local = LocalLock()
        self._client = redis_client(url, timeout_s=timeout_s,
                                    client_name=f"soulfra-lease-{node}")
        self._renewers: dict[str, asyncio.Task[None]] = {}
        self._confirmed: dict[str, float] = {}  # service -> monotonic time of the last renewal
        self._held: dict[str, Grant] = {}
        self.unreachable: str | None = None  # why Redis did not answer, while it does not

    def _errors(self) -> tuple[type[Exception], ...]:
        return (redis_errors()[0], OSError)

    def _down(self, what: str, exc: Exception) -> str:
        why = f"Redis {redact_text(self.url)} unreachable ({exc})"
        if self.unreachable is None:
            logger.warning("cluster lease: {} while {}; shared services wait for it", why, what)
        self.unreachable = why
        return why

    def _up(self) -> None:
        if self.unreachable is not None:
            logger.info("cluster lease: Redis {} answers again", redact_text(self.url))
        self.unreachable = None

    async def acquire(self, service: str, holder: str, *, shared: bool = False,
                      force: bool = False) -> Grant | Denied:
        local = await self.local.acquire(service, holder)
        if isinstance(local, Denied) or not shared:
            return local
        started = time.monotonic()
        try:
            granted, value = await self._client.eval(
                _GRANT, 3, keys.lease_key(service), keys.fence_key(service),
                keys.gave_up_key(service), self.node, self.ttl_ms, "1" if force else "0")
        except self._errors() as exc:
            await self.local.release(local)
            return Denied(f"waiting for Redis (the cluster lease): "
                          f"{self._down('taking a lease', exc)}; a shared service is "
                          "recovered only under the lease", wait=True)
        self._up()
        if int(granted) == 2:
            await self.local.release(local)
            return Denied(_gave_up_reason(str(value)))
        if not int(granted):
            await self.local.release(local)
            seen = keys.parse_lease_value(str(value))
            who = f"node {seen[0]} (token {seen[1]})" if seen else repr(value)
            return Denied(f"waiting for the cluster lease: {who} is recovering it", wait=True)
        grant = Grant(service, holder, self.node, int(value))
        self._held[service] = grant
        self._confirmed[service] = started
        self._renewers[service] = asyncio.create_task(self._renew(grant),
                                                      name=f"lease:{service}")
        logger.info("{}: cluster lease taken by node {} (token {})", service, self.node,
                    grant.token)
        return grant

    async def _renew(self, grant: Grant) -> None:
        key, value = keys.lease_key(grant.service), self._value(grant)
        me = asyncio.current_task()
        # Ends when release/close forget it, not only on cancel (core/tasks.py: redis-py
        # can swallow a cancel that lands inside the renewal's command).
        while self._renewers.get(grant.service) is me:
            await asyncio.sleep(self.ttl_ms / 3000)
            if self._renewers.get(grant.service) is not me:
                return
            started = time.monotonic()
            try:
                kept = await self._client.eval(_RENEW, 1, key, value, self.ttl_ms)
            except self._errors() as exc:
                self._down(f"renewing the lease of {grant.service}", exc)
                continue
            self._up()
            if not kept:
                logger.warning("{}: cluster lease token {} lost (expired or taken over)",
                               grant.service, grant.token)
                return
            self._confirmed[grant.service] = started

    def _value(self, grant: Grant) -> str:
        return keys.lease_value(grant.node, grant.token or 0)

    async def still_ours(self, grant: Grant) -> str | None:
        if grant.token is None:
            return await self.local.still_ours(grant)
        checked = time.monotonic()
        try:
            value = await self._client.get(keys.lease_key(grant.service))
        except self._errors() as exc:
            why = self._down(f"checking the lease of {grant.service}", exc)
            # Inside half a TTL of the last renewal the lease cannot have expired yet.
            if checked - self._confirmed.get(grant.service, 0.0) < self.ttl_ms / 2000:
                return None
            return f"cannot confirm the cluster lease (token {grant.token}): {why}"
        self._up()
        if value == self._value(grant):
            return None
        seen = keys.parse_lease_value(str(value)) if value is not None else None
        if seen is None:
            return (f"the cluster lease token {grant.token} of node {grant.node} is gone "
                    "(it expired, or another node took it over and released it since)")
        return (f"the cluster lease now names node {seen[0]} (token {seen[1]}), not node "
                f"{grant.node} (token {grant.token})")

    async def may_try(self, service: str) -> bool:
        if not await self.local.may_try(service):
            return False
        try:
            taken = await self._client.exists(keys.lease_key(service))
        except self._errors() as exc:
            self._down(f"waiting for the lease of {service}", exc)
            return False
        self._up()
        return not taken

    async def release(self, grant: Grant) -> None:
        await self.local.release(grant)
        if grant.token is None:
            return
        await cancel_and_wait([self._renewers.pop(grant.service, None)])
        if self._held.get(grant.service) == grant:
            del self._held[grant.service]
        try:
            await self._client.eval(_RELEASE, 1, keys.lease_key(grant.service),
                                    self._value(grant))
        except self._errors() as exc:
            logger.warning("{}: cluster lease not released (it expires by itself): {}",
                           grant.service, exc)

    async def gave_up(self, service: str, reason: str, *, shared: bool) -> None:
        if not shared:
            return
        try:
            await self._client.set(keys.gave_up_key(service),
                                    keys.gave_up_value(self.node, reason, time.time()))
        except self._errors() as exc:
            self._down(f"noting that it gave up on {service}", exc)

    async def healthy(self, service: str, *, shared: bool) -> None:
        if not shared:
            return
        try:
            if await self._client.delete(keys.gave_up_key(service)):
                logger.info("{}: healthy again; any node may recover it again", service)
        except self._errors() as exc:
            self._down(f"clearing the gave-up mark of {service}", exc)

    def summary(self) -> dict[str, Any]:
        return {"mode": "cluster", "node": self.node, "ttlMs": self.ttl_ms,
                "redis": "unreachable" if self.unreachable else "ok",
                "problem": self.unreachable,
                "held": {s: g.token for s, g in sorted(self._held.items())},
                "heldLocally": self.local.summary()["held"]}

    async def close(self) -> None:
        renewers = list(self._renewers.values())
        self._renewers.clear()
        await cancel_and_wait(renewers)
        await self._client.aclose()


def _gave_up_reason(record: str) -> str:
    seen = keys.parse_gave_up_value(record)
    who = f"node {seen['node']}" if seen["node"] else "a node"
    when = utc_clock(seen["at"]) if seen["at"] is not None else "earlier"
    return (f"{who} gave up on it at {when}: {seen['reason']}; no node recovers it "
            "automatically until it is healthy again (send force: true to recover it anyway)")


def cluster_lease(settings: Settings) -> ClusterLease | None:
    """The lease for a cluster (SOULFRA_CLUSTER_REDIS_URL, or the older SOULFRA_LOCK_REDIS_URL
    for leases alone); None: standalone, the local lock only. The lease lives as long as a
    node's membership (SOULFRA_CLUSTER_TTL_S) without renewal."""
    url = settings.cluster_redis_url or settings.lock_redis_url
    if url is None:
        return None
    return ClusterLease(url.get_secret_value(), settings.node_name,
                        ttl_ms=settings.cluster_ttl_s * 1000)
