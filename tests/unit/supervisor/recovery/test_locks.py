"""The recovery lease on a real Redis: one holder per shared service with a fencing token, a dead
holder's TTL, a frozen holder stopped by its token, local services without Redis."""

from __future__ import annotations

import asyncio

import pytest
import redis

from supervisor.cluster import keys
from supervisor.recovery.locks import ClusterLease, Denied, Grant, LocalLock

pytestmark = pytest.mark.timeout(30)


def _peek(url: str, service: str) -> tuple[str | None, str | None]:
    r = redis.Redis.from_url(url, decode_responses=True)
    try:
        return r.get(keys.lease_key(service)), r.get(keys.fence_key(service))
    finally:
        r.close()


async def test_one_node_holds_a_shared_service_with_a_growing_token(redis_server):
    a = ClusterLease(redis_server.url, "a", ttl_ms=1500)
    b = ClusterLease(redis_server.url, "b", ttl_ms=1500)
    try:
        first = await a.acquire("web", "RC_1", shared=True)
        assert isinstance(first, Grant) and first.token == 1
        assert _peek(redis_server.url, "web") == (keys.lease_value("a", 1), "1")
        denied = await b.acquire("web", "RC_2", shared=True)
        assert isinstance(denied, Denied) and denied.wait
        assert "node a (token 1)" in denied.reason
        assert not await b.may_try("web")
        other = await b.acquire("db", "RC_3", shared=True)
        assert isinstance(other, Grant), "another service is free"
        await asyncio.sleep(2.5)  # longer than the TTL: a's lease is renewed while held
        assert await a.still_ours(first) is None
        await b.release(Grant("web", "RC_2", "b", 1))  # not the holder: no effect
        assert _peek(redis_server.url, "web")[0] == keys.lease_value("a", 1)
        await a.release(first)
        assert await b.may_try("web")
        second = await b.acquire("web", "RC_4", shared=True)
        assert isinstance(second, Grant) and second.token == 2, "a new grant, a new token"
    finally:
        await a.close()
        await b.close()


async def test_a_holder_that_stops_renewing_is_fenced_off_after_the_ttl(redis_server):
    """Node a froze (its renewal stopped); b takes over after the TTL; a's next step sees it."""
    a = ClusterLease(redis_server.url, "a", ttl_ms=600)
    b = ClusterLease(redis_server.url, "b", ttl_ms=600)
    try:
        grant = await a.acquire("web", "RC_1", shared=True)
        assert isinstance(grant, Grant)
        for task in list(a._renewers.values()):  # noqa: SLF001 - freeze the holder's renewer
            task.cancel()
        assert isinstance(await b.acquire("web", "RC_2", shared=True), Denied)
        await asyncio.sleep(0.9)
        assert "is gone" in (await a.still_ours(grant) or "")
        taken = await b.acquire("web", "RC_2", shared=True)
        assert isinstance(taken, Grant) and taken.token == 2
        why = await a.still_ours(grant)
        assert why is not None and "node b (token 2)" in why
        await a.release(grant)  # the old holder's release must not free b's lease
        assert _peek(redis_server.url, "web")[0] == keys.lease_value("b", 2)
        assert await b.still_ours(taken) is None
    finally:
        await a.close()
        await b.close()


async def test_redis_down_shared_waits_and_local_goes_on(redis_server):
    lease = ClusterLease(redis_server.url, "a", ttl_ms=1000, timeout_s=0.5)
    redis_server.kill()
    try:
        denied = await lease.acquire("web", "RC_1", shared=True)
        assert isinstance(denied, Denied) and denied.wait
        assert denied.reason.startswith("waiting for Redis")
        assert lease.summary()["redis"] == "unreachable"
        assert not await lease.may_try("web")
        local = await lease.acquire("disk", "RC_2")
        assert isinstance(local, Grant) and local.token is None, "a local service goes on"
        assert isinstance(await lease.acquire("disk", "RC_3"), Denied), "one at a time here"
        await lease.release(local)
        redis_server.start()
        assert await lease.may_try("web")
        grant = await lease.acquire("web", "RC_4", shared=True)
        assert isinstance(grant, Grant) and grant.token == 1
        assert lease.summary()["redis"] == "ok"
    finally:
        await lease.close()


async def test_a_redis_blip_inside_the_lease_does_not_stop_the_holder(redis_server):
    lease = ClusterLease(redis_server.url, "a", ttl_ms=4000, timeout_s=0.5)
    try:
        grant = await lease.acquire("web", "RC_1", shared=True)
        assert isinstance(grant, Grant)
        redis_server.kill()
        assert await lease.still_ours(grant) is None, "renewed < TTL/2 ago: still ours"
        await asyncio.sleep(2.2)
        why = await lease.still_ours(grant)
        assert why is not None and "cannot confirm" in why
    finally:
        await lease.close()


async def test_the_local_lock_alone():
    lock = LocalLock()
    grant = await lock.acquire("web", "RC_1", shared=True)
    assert isinstance(grant, Grant) and grant.token is None
    assert isinstance(await lock.acquire("web", "RC_2"), Denied)
    assert await lock.still_ours(grant) is None
    await lock.release(grant)
    assert await lock.may_try("web")


async def test_close_ends_while_a_renewal_is_in_flight(redis_server):
    """A cancel landing inside the renewal's Redis command used to be swallowed by redis-py:
    the renewer went on renewing and close() waited for it forever (seen in CI)."""
    services = [f"web{i}" for i in range(300)]
    for i, service in enumerate(services):
        lease = ClusterLease(redis_server.url, "a", ttl_ms=30)  # a renewal every 10 ms
        assert isinstance(await lease.acquire(service, "RC_1", shared=True), Grant)
        await asyncio.sleep(0.01)
        for _ in range(i % 8):  # land the cancel on each step of the renewal's command
            await asyncio.sleep(0)
        await lease.close()
    await asyncio.sleep(0.2)  # several TTLs: a lease nobody renews has expired by now
    renewed = [s for s in services if _peek(redis_server.url, s)[0] is not None]
    assert renewed == [], "a closed node still renews these leases"


async def test_a_shared_service_one_node_gave_up_on_is_not_granted_until_healthy(redis_server):
    a = ClusterLease(redis_server.url, "a", ttl_ms=1500)
    b = ClusterLease(redis_server.url, "b", ttl_ms=1500)
    try:
        grant = await a.acquire("web", "RC_1", shared=True)
        assert isinstance(grant, Grant)
        await a.gave_up("web", "recovery failed after 2 attempt(s)", shared=True)
        await a.release(grant)
        denied = await b.acquire("web", "RC_2", shared=True)
        assert isinstance(denied, Denied) and not denied.wait, "no waiting for a lease: done"
        assert denied.reason.startswith("node a gave up on it at ")
        assert "recovery failed after 2 attempt(s)" in denied.reason
        assert "force: true" in denied.reason
        await a.gave_up("disk", "local", shared=False)  # a node's own service: nothing shared
        assert isinstance(await b.acquire("disk", "RC_3", shared=True), Grant)
        forced = await b.acquire("web", "RC_4", shared=True, force=True)
        assert isinstance(forced, Grant), "a human's force takes the lease anyway"
        await b.release(forced)
        await b.healthy("web", shared=True)
        again = await b.acquire("web", "RC_5", shared=True)
        assert isinstance(again, Grant), "healthy again: any node recovers it again"
    finally:
        await a.close()
        await b.close()
