"""Connection reuse of the lean HTTP probe, against a real keep-alive server in a subprocess:
one connection for many checks, a fresh one every 10 checks and after a failure, a kept
connection that closes between checks seen at once, and a server that closes idle connections
detected as such (not as a failure)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import pytest

import health_checks
from health_checks.base import CheckKind
from supervisor.clients.http_probe import FRESH_EVERY
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import State, StateTracker, Thresholds
from tests.support.helpers import ROOT, free_port, http, kill_tree, wait_for

SERVER = ROOT / "tests" / "support" / "keepalive_server.py"


@pytest.fixture
def server():
    """Start the keep-alive server; returns start(**options) -> (port, process)."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(keepalive_timeout: float = 75.0, port: int | None = None):
        port = port or free_port()
        proc = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port),
                                 "--keepalive-timeout", str(keepalive_timeout)])
        procs.append(proc)
        wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/__conns")[0] == 200,
                 what="keep-alive server up")
        return port, proc

    yield start
    for proc in procs:
        kill_tree(proc.pid)


def make(**cfg):
    cls = health_checks.registry.get("http")
    return cls(cls.config_model.model_validate({"type": "http", "timeout": 2000, **cfg}), "api")


def conns(port: int) -> int:
    return http("GET", f"http://127.0.0.1:{port}/__conns")[1]["connections"]


async def until(predicate: Callable[[], bool], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def test_one_connection_for_many_checks_and_a_fresh_one_every_n(server):
    port, _ = server()
    check = make(url=f"http://127.0.0.1:{port}/health")
    assert check.client == "lean"
    try:
        for _ in range(FRESH_EVERY):
            assert (await check.run()).kind is CheckKind.HEALTHY
        assert conns(port) == 1
        assert (await check.run()).kind is CheckKind.HEALTHY  # the 11th: a fresh connection
        assert conns(port) == 2
        # After a failed check the next one starts from a fresh connection.
        http("POST", f"http://127.0.0.1:{port}/fail")
        assert (await check.run()).kind is CheckKind.UNHEALTHY
        http("POST", f"http://127.0.0.1:{port}/heal")
        assert (await check.run()).kind is CheckKind.HEALTHY
        assert conns(port) == 3
    finally:
        await check.close()


async def test_reuse_off_opens_a_connection_per_check(server):
    port, _ = server()
    check = make(url=f"http://127.0.0.1:{port}/health", reuseConnection=False)
    try:
        for _ in range(3):
            assert (await check.run()).kind is CheckKind.HEALTHY
        assert conns(port) == 3
    finally:
        await check.close()


async def test_a_kept_connection_that_dies_between_checks_is_checked_at_once(server):
    port, proc = server()
    bus = EventBus()
    tracker = StateTracker(bus)
    tracker.add("api", Thresholds(1, 1))
    sched = Scheduler(tracker, bus, 10)
    check = make(url=f"http://127.0.0.1:{port}/health")
    # An hour between checks: only the closing connection can bring the next one soon.
    sched.add(ServiceRuntime("api", 3600.0, [check]))
    try:
        await until(lambda: tracker.get("api").state is State.HEALTHY, 10, "first check")
        runs = sched.services["api"].runs
        proc.kill()  # a crash: the kernel closes the kept connection
        proc.wait()
        await until(lambda: tracker.get("api").state is State.FAILING, 10,
                    "the crash to be seen without waiting for the next interval")
        assert sched.services["api"].runs == runs + 1
        assert tracker.get("api").last_failure.kind is CheckKind.REFUSED
    finally:
        await sched.stop()


async def test_a_server_that_closes_idle_connections_is_not_a_failure(server):
    port, _ = server(keepalive_timeout=0.3)
    bus = EventBus()
    tracker = StateTracker(bus)
    tracker.add("api", Thresholds(1, 1))
    sched = Scheduler(tracker, bus, 10)
    check = make(url=f"http://127.0.0.1:{port}/health")
    sched.add(ServiceRuntime("api", 3600.0, [check]))
    try:
        await until(lambda: sched.services["api"].runs >= 2, 10,
                    "the idle close to bring a verifying check")
        # The verifying check found it alive: no failure, and no more kept connections.
        assert tracker.get("api").state is State.HEALTHY
        assert not check.reusing
    finally:
        await sched.stop()
