"""Hung checks of the new types never delay other services: a frozen redis, a command that
never ends and a stopped broker, next to fast checks on a short interval."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import health_checks
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import State, StateTracker, Thresholds


def make(type_: str, service: str, **cfg):
    cls = health_checks.registry.get(type_)
    return cls(cls.config_model.model_validate({"type": type_, **cfg}), service)


async def test_hung_redis_mqtt_and_command_checks_never_delay_fast_ones(
        redis_server, mosquitto_server, tmp_path):
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
