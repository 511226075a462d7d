"""The recovery lease on a real Redis: one holder per service, a dead holder's TTL, the local lock
without Redis."""

from __future__ import annotations

import asyncio

from supervisor.recovery.locks import RedisLease


async def test_two_hosts_share_one_lease_per_service(redis_server):
    a = RedisLease(redis_server.url, ttl_ms=1500, owner="host-a")
    b = RedisLease(redis_server.url, ttl_ms=1500, owner="host-b")
    try:
        assert await a.acquire("web", "RC_1")
        assert not await b.acquire("web", "RC_2"), "host b must wait for host a"
        assert await b.acquire("db", "RC_3"), "another service is free"
        await asyncio.sleep(2.5)  # longer than the TTL: a's lease is renewed while held
        assert await a.holder_of("web") == "host-a:RC_1"
        await b.release("web", "RC_2")  # not the holder: no effect
        assert await a.holder_of("web") == "host-a:RC_1"
        await a.release("web", "RC_1")
        assert await b.acquire("web", "RC_4")
    finally:
        await a.close()
        await b.close()


async def test_a_dead_holder_frees_the_service_after_the_ttl(redis_server):
    a = RedisLease(redis_server.url, ttl_ms=500, owner="host-a")
    b = RedisLease(redis_server.url, ttl_ms=500, owner="host-b")
    try:
        assert await a.acquire("web", "RC_1")
        await a.close()  # host a dies mid-recovery: no release, no renewal
        assert not await b.acquire("web", "RC_2")
        await asyncio.sleep(0.8)
        assert await b.acquire("web", "RC_2")
    finally:
        await b.close()


async def test_without_redis_the_local_lock_still_guards(redis_server):
    lease = RedisLease(redis_server.url, ttl_ms=500, owner="host-a")
    redis_server.kill()
    try:
        assert await lease.acquire("web", "RC_1"), "a Redis outage must not stop repairs"
        assert not await lease.acquire("web", "RC_2"), "still one at a time on this host"
        await lease.release("web", "RC_1")
        assert await lease.acquire("web", "RC_3")
    finally:
        await lease.close()
