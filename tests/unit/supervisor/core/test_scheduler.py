"""Scheduling isolation and the threshold state machine, on real checks and real sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time

import pytest

import health_checks
from health_checks.base import CheckKind, CheckResult
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import State, StateTracker, Thresholds

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


@pytest.fixture
def make(check_env):
    def build(type_: str, service: str, **cfg):
        cls = health_checks.registry.get(type_)
        return cls(cls.config_model.model_validate({"type": type_, **cfg}), service, check_env)
    return build


async def test_a_hung_check_never_delays_another_service(tmp_path, make):
    # A server that accepts and never answers: the HTTP check hangs until its timeout.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(100)
    port = srv.getsockname()[1]
    bus = EventBus()
    tracker = StateTracker(bus)
    sched = Scheduler(tracker, bus, max_concurrent=10)
    for name in ("hung", "fast"):
        tracker.add(name, Thresholds(1, 1))
    sched.add(ServiceRuntime("hung", 0.2, [make("http", "hung",
                                                url=f"http://127.0.0.1:{port}/", timeout=3000)]))
    sched.add(ServiceRuntime("fast", 0.2, [make("disk", "fast", path=str(tmp_path))]))
    try:
        await asyncio.sleep(2.5)
        fast, hung = sched.services["fast"].runs, sched.services["hung"].runs
        assert fast >= 5, f"fast service ran {fast} times in 2.5 s at a 0.2 s interval"
        assert hung == 0, "the hung check never overlaps itself"
    finally:
        await sched.stop()
        srv.close()


def _result(kind: CheckKind) -> CheckResult:
    return CheckResult(kind=kind, message=str(kind), check="c", check_type="http")


async def test_first_checks_of_many_services_are_spread_not_fired_at_once(make):
    # 1,500 services starting together: all first checks within 2 s would be 750/s, more
    # than the loop reads answers for, and healthy services would time out at start-up.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4096)
    port = srv.getsockname()[1]
    bus = EventBus()
    tracker = StateTracker(bus)
    sched = Scheduler(tracker, bus, max_concurrent=200)
    first: dict[str, float] = {}
    sched.on_check = lambda service, _result: first.setdefault(service, time.monotonic())
    n = 1500
    for i in range(n):
        tracker.add(f"s{i}", Thresholds(1, 1))
        sched.add(ServiceRuntime(f"s{i}", 60.0, [make("tcp", f"s{i}", host="127.0.0.1",
                                                      port=port, timeout=2000)]), start=False)
    started = time.monotonic()
    sched.start_all()
    try:
        await asyncio.sleep(2.0)
        within_2s = len(first)
        deadline = time.monotonic() + 20
        while len(first) < n and time.monotonic() < deadline:  # noqa: ASYNC110 (polls a list)
            await asyncio.sleep(0.2)
        assert len(first) == n, f"only {len(first)} of {n} services had a first check"
        assert within_2s < 0.7 * n, f"{within_2s} of {n} first checks fired within 2 s"
        assert max(first.values()) - started < 15, "the first round still ends soon"
    finally:
        await sched.stop()
        srv.close()


async def test_hung_redis_mqtt_and_command_checks_never_delay_fast_ones(redis_server,
                                                                       mosquitto_server,
                                                                       tmp_path, make):
    bus = EventBus()
    tracker = StateTracker(bus)
    sched = Scheduler(tracker, bus, max_concurrent=10)
    hung = {
        "redis": make("redis", "redis", url=redis_server.url, timeout=3000),
        "mqtt": make("mqtt", "mqtt", broker=f"mqtt://127.0.0.1:{mosquitto_server.port}",
                     timeout=3000),
        "cmd": make("command", "cmd", command=[sys.executable, "-c",
                                               "import time; time.sleep(60)"], timeout=3000),
    }
    for name in [*hung, "fast"]:
        tracker.add(name, Thresholds(1, 1))
    # Connect first, then freeze both servers: their checks hang on a live connection.
    for name in ("redis", "mqtt"):
        assert (await hung[name].run()).ok
    os.kill(redis_server.pid, signal.SIGSTOP)
    os.kill(mosquitto_server.pid, signal.SIGSTOP)
    try:
        for name, check in hung.items():
            sched.add(ServiceRuntime(name, 0.2, [check]))
        sched.add(ServiceRuntime("fast", 0.2, [make("disk", "fast", path=str(tmp_path)),
                                               make("sqlite", "fast", path=str(tmp_path / "*.db"),
                                                    minFiles=0)]))
        await asyncio.sleep(2.5)
        fast = sched.services["fast"].runs
        assert fast >= 5, f"fast service ran {fast} times in 2.5 s at a 0.2 s interval"
        assert all(sched.services[n].runs == 0 for n in hung), "hung checks still in flight"
        await asyncio.sleep(1.5)
        for name in hung:
            assert tracker.get(name).state is State.FAILING, name
            assert tracker.get(name).last_failure.kind == "stalled", name
    finally:
        os.kill(redis_server.pid, signal.SIGCONT)
        os.kill(mosquitto_server.pid, signal.SIGCONT)
        await sched.stop()
        await bus.drain()
