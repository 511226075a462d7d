"""The Redis lease behind the recovery lock: two supervisor hosts never recover one service at
once; a holder that dies frees it after the TTL; a Redis outage does not stop repairs."""

from __future__ import annotations

import asyncio

import redis

from supervisor.recovery.locks import RedisLease
from tests.helpers import demo_service_config, free_port, services_file, wait_for


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


def test_a_service_leased_by_another_host_is_not_recovered_here(daemon_factory, tmp_path,
                                                                 redis_server):
    port = free_port()
    d = daemon_factory(services_file({"web": demo_service_config(port, tmp_path / "web.pid")}),
                       env={"SOULFRA_LOCK_REDIS_URL": redis_server.url})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    other = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        other.set("soulfra:recovery:web", "host-b:RC_00000000", px=20000)
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] == "skipped"
        assert "another host" in body["message"]
        other.delete("soulfra:recovery:web")
        status, body = d.post("/api/monitoring/recover",
                              {"action": "restart_service", "target": "web"})
        assert status == 202 and body["status"] in ("queued", "running")
        done = wait_for(lambda: (r := d.get(body["location"])[1])["status"] == "succeeded"
                        and r, timeout=20, what="recovery done")
        assert done["attempts"][0]["ok"]
        assert other.get("soulfra:recovery:web") is None, "released after the recovery"
    finally:
        other.close()
