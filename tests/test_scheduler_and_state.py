"""Scheduling isolation and the threshold state machine, on real checks and real sockets."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

import health_checks
from health_checks.base import CheckKind, CheckResult
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import State, StateTracker, Thresholds
from supervisor.core.uptime import uptime_percent


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


async def test_thresholds_make_transitions_and_publish_them():
    bus = EventBus()
    seen = []

    async def collect(ev):
        seen.append((ev.data["previous"], ev.data["state"]))

    bus.subscribe("t", collect, types={"state_changed"})
    tracker = StateTracker(bus)
    tracker.add("s", Thresholds(errors=3, successes=2))
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    for _ in range(2):
        tracker.record("s", [_result(CheckKind.STALLED)])
    assert tracker.get("s").state is State.HEALTHY, "two blips are below the threshold"
    tracker.record("s", [_result(CheckKind.STALLED)])
    assert tracker.get("s").state is State.FAILING and tracker.get("s").correlation_id
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    assert tracker.get("s").state is State.FAILING, "success threshold is 2"
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    assert tracker.get("s").state is State.HEALTHY
    tracker.record("s", [_result(CheckKind.CHECK_ERROR)])
    assert tracker.get("s").state is State.HEALTHY, "our own bug is not the service's failure"
    for _ in range(3):
        tracker.record("s", [_result(CheckKind.DEGRADED)])
    assert tracker.get("s").state is State.DEGRADED
    await asyncio.sleep(0.05)
    assert seen == [("unknown", "healthy"), ("healthy", "failing"), ("failing", "healthy"),
                    ("healthy", "degraded")]
    await bus.drain()


def test_uptime_is_a_share_of_time_not_of_checks():
    now = time.time()
    start = now - 1000
    rows = [
        {"id": 1, "at": start - 50, "service": "a", "state": "healthy"},
        {"id": 2, "at": start + 900, "service": "a", "state": "failing"},
        {"id": 3, "at": start + 950, "service": "a", "state": "healthy"},
        {"id": 4, "at": start + 100, "service": "b", "state": "healthy"},  # unknown before
        {"id": 5, "at": start + 500, "service": "b", "state": "maintenance"},
        {"id": 6, "at": start + 600, "service": "b", "state": "healthy"},
    ]
    # a: 950 up of 1000; b: 800 up of 800 counted (unknown and maintenance left out)
    assert abs(uptime_percent(rows, start, now, {"a", "b"}) - 100 * 1750 / 1800) < 0.01
    assert uptime_percent([], start, now, {"a"}) == 100.0


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
        while len(first) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert len(first) == n, f"only {len(first)} of {n} services had a first check"
        assert within_2s < 0.7 * n, f"{within_2s} of {n} first checks fired within 2 s"
        assert max(first.values()) - started < 15, "the first round still ends soon"
    finally:
        await sched.stop()
        srv.close()
