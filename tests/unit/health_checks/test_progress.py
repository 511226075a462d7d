"""Stalled work: a worker that answers its health check while its counter stops advancing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest
import redis

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report, time_until
from tests.support.helpers import ROOT, free_port, http, kill_tree, wait_for

WORKER = ROOT / "tests" / "support" / "progress_worker.py"


@pytest.fixture
def make(check_env):
    def build(service: str = "worker", **cfg):
        cls = health_checks.registry.get("progress")
        return cls(cls.config_model.model_validate({"type": "progress", **cfg}), service,
                   check_env)
    return build


async def test_a_jammed_worker_is_no_progress_while_health_is_fine(make, check_env):
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(WORKER), "--port", str(port)])  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: http("GET", base + "/health")[0] == 200, what="worker up")
        check = make(url=base + "/stats", path="$.worker.processed",
                     pendingPath="worker.queued", window=1000, timeout=1000)
        for _ in range(4):
            r = await check.run()
            assert r.kind is CheckKind.HEALTHY, r
            await asyncio.sleep(0.3)
        http("POST", base + "/jam")
        jammed = time.monotonic()
        took, r = await time_until(check, CheckKind.NO_PROGRESS, interval=0.2, since=jammed)
        report("worker counter stops advancing (window 1 s)", took, r)
        assert "stuck at" in r.message and "wait" in r.message
        assert 0.9 < took < 3
        health = await health_checks.registry.get("http")(
            health_checks.registry.get("http").config_model.model_validate(
                {"type": "http", "url": base + "/health"}), "worker", check_env).run()
        assert health.kind is CheckKind.HEALTHY, "its health check still passes"
    finally:
        kill_tree(proc.pid)
        proc.wait()


async def test_queue_in_redis_must_drain_and_idle_is_fine(redis_server, make):
    admin = redis.Redis.from_url(redis_server.url)
    check = make(redisUrl=redis_server.url, pendingKey="jobs", expect="decrease",
                 window=800, timeout=1000)
    try:
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.details["value"] == 0
        await asyncio.sleep(1.0)
        assert (await check.run()).kind is CheckKind.HEALTHY, "an empty queue is idle, not stuck"
        admin.rpush("jobs", *range(5))
        assert (await check.run()).kind is CheckKind.HEALTHY
        admin.lpop("jobs")
        assert (await check.run()).kind is CheckKind.HEALTHY
        took, r = await time_until(check, CheckKind.NO_PROGRESS, interval=0.2)
        report("redis queue stops draining (window 0.8 s)", took, r)
        assert r.details["value"] == 4
        admin.delete("jobs")
        assert (await check.run()).kind is CheckKind.HEALTHY
    finally:
        admin.close()
        await check.close()


async def test_heartbeat_counters_and_bad_config(check_env, make):
    board = check_env.heartbeats
    check = make("hb", heartbeatField="done", pendingField="todo", window=500)
    assert (await check.run()).message == "no value yet"
    board.beat("hb", {"done": 1, "todo": 3})
    assert (await check.run()).kind is CheckKind.HEALTHY
    took, r = await time_until(check, CheckKind.NO_PROGRESS, interval=0.1)
    board.beat("hb", {"done": 1, "todo": 0})
    assert (await check.run()).kind is CheckKind.HEALTHY, "nothing waiting: idle is fine"
    from pydantic import ValidationError
    cls = health_checks.registry.get("progress").config_model
    with pytest.raises(ValidationError, match="exactly one source"):
        cls.model_validate({"type": "progress", "url": "http://x/", "heartbeatField": "a"})
    with pytest.raises(ValidationError, match="JSON path"):
        cls.model_validate({"type": "progress", "url": "http://x/", "path": "a..[b"})


async def test_heartbeat_check_watches_again_after_close(check_env):
    """A reconnect step closes every check of a service; a heartbeat must stay watched."""
    cls = health_checks.registry.get("heartbeat")
    board = check_env.heartbeats
    check = cls(cls.config_model.model_validate({"type": "heartbeat", "period": 200,
                                                 "grace": 0}), "hbc", check_env)
    try:
        board.beat("hbc")
        assert (await check.run()).kind is CheckKind.HEALTHY
        await check.close()
        assert "hbc" not in board.expected
        await asyncio.sleep(0.3)
        r = await check.run()
        assert r.kind is CheckKind.MISSING_HEARTBEAT, "still judged after close()"
    finally:
        await check.close()
