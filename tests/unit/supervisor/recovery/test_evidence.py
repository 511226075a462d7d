"""The evidence right before an automatic recovery acts (supervisor/recovery/verify.py
passes_before_acting), on real checks against real sockets: a round in flight is joined, not
run a second time; a passing round from before the recovery began is not taken as "healthy
again" (a push signal may have come since)."""

from __future__ import annotations

import asyncio
import time

import health_checks
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import StateTracker, Thresholds
from supervisor.recovery.verify import passes_before_acting


def _scheduler(check_env, name: str, type_: str, **cfg) -> Scheduler:
    bus = EventBus()
    tracker = StateTracker(bus)
    tracker.add(name, Thresholds(1, 1))
    sched = Scheduler(tracker, bus, max_concurrent=10)
    cls = health_checks.registry.get(type_)
    check = cls(cls.config_model.model_validate({"type": type_, **cfg}), name, check_env)
    sched.add(ServiceRuntime(name, 60.0, [check]), start=False)  # rounds only when asked
    return sched


async def test_a_round_in_flight_is_joined_not_run_again(check_env) -> None:
    connections: list[asyncio.StreamWriter] = []
    probed = asyncio.Event()

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accepted, never answered
        probed.set()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sched = _scheduler(check_env, "hung", "http", url=f"http://127.0.0.1:{port}/health",
                       timeout=1000)
    try:
        begun = time.monotonic()
        scheduled = asyncio.create_task(sched.run_service("hung"))
        await asyncio.wait_for(probed.wait(), 10)  # the scheduled round is in flight
        assert not await passes_before_acting("hung", sched, begun)
        await scheduled
        assert len(connections) == 1, "the hung service was probed a second time"
    finally:
        await sched.stop()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_passing_round_from_before_the_recovery_is_not_healthy_again(check_env) -> None:
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sched = _scheduler(check_env, "svc", "tcp", host="127.0.0.1", port=port, timeout=1000)
    try:
        passed = await sched.run_service("svc")
        assert passed and all(r.ok for r in passed)
        server.close()  # then the service dies (as a process exit signal would say)
        await server.wait_closed()
        begun = time.monotonic()
        assert not await passes_before_acting("svc", sched, begun), \
            "the passing round from before the failure was taken as fresh evidence"
    finally:
        await sched.stop()
