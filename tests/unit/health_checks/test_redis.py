"""The redis check against a real redis-server: drops, hangs, backlog, and healing."""

from __future__ import annotations

import os
import signal
import time

import redis

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report, time_until


def make(**cfg):
    cls = health_checks.registry.get("redis")
    return cls(cls.config_model.model_validate({"type": "redis", **cfg}), "cache")


async def test_server_killed_is_connection_lost_and_the_check_heals(redis_server):
    check = make(url=redis_server.url, timeout=1000)
    try:
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.latency_ms > 0
        fault = time.monotonic()
        redis_server.kill()
        took, r = await time_until(check, CheckKind.CONNECTION_LOST, since=fault)
        report("redis server killed", took, r)
        assert "connection lost" in r.message and took < 5
        r = await check.run()
        assert r.kind is CheckKind.CONNECTION_LOST, "still down while the server is down"
        redis_server.start()
        took, r = await time_until(check, CheckKind.HEALTHY)
        report("redis back after restart (healed)", took, r)
        assert r.details["connects"] >= 2
    finally:
        await check.close()


async def test_client_kill_of_the_checks_own_connection_is_seen(redis_server):
    check = make(url=redis_server.url, timeout=1000)
    admin = redis.Redis.from_url(redis_server.url)
    try:
        assert (await check.run()).kind is CheckKind.HEALTHY
        ours = [c for c in admin.client_list() if c["name"] == "soulfra-check-cache"]
        assert len(ours) == 1, "the check keeps one named connection"
        fault = time.monotonic()
        admin.client_kill_filter(_id=ours[0]["id"])
        took, r = await time_until(check, CheckKind.CONNECTION_LOST, since=fault)
        report("redis CLIENT KILL of our connection", took, r)
        assert "connection lost" in r.message
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.details["connects"] == 2, "reconnected"
    finally:
        admin.close()
        await check.close()


async def test_a_stopped_server_stalls_and_a_backlog_is_pressure(redis_server):
    check = make(url=redis_server.url, timeout=500,
                 keys=[{"key": "jobs", "maxLength": 3}, {"key": "events", "maxLength": 2}])
    admin = redis.Redis.from_url(redis_server.url)
    try:
        admin.rpush("jobs", 1, 2)
        assert (await check.run()).kind is CheckKind.HEALTHY
        admin.xadd("events", {"a": 1})
        admin.xadd("events", {"a": 2})
        admin.xadd("events", {"a": 3})
        r = await check.run()
        assert r.kind is CheckKind.RESOURCE_PRESSURE and "events has 3" in r.message
        assert r.details["resource"] == "queue"
        admin.delete("events")
        os.kill(redis_server.pid, signal.SIGSTOP)
        try:
            fault = time.monotonic()
            took, r = await time_until(check, CheckKind.STALLED, since=fault)
            report("redis SIGSTOP (hang)", took, r)
            assert 0.4 < took < 3
        finally:
            os.kill(redis_server.pid, signal.SIGCONT)
        took, r = await time_until(check, CheckKind.HEALTHY)
    finally:
        admin.close()
        await check.close()


async def test_refused_from_the_start_is_connection_lost_naming_the_cause():
    from tests.support.helpers import free_port
    check = make(url=f"redis://:hunter2@127.0.0.1:{free_port()}/0", timeout=500)
    r = await check.run()
    assert r.kind is CheckKind.CONNECTION_LOST and "cannot connect" in r.message
    assert "hunter2" not in r.message, "the password is redacted"
    await check.close()
