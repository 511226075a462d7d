#!/usr/bin/env python3
"""CPU per HTTP check inside the daemon, layer by layer, against bench/scale_server.py.

    .venv/bin/python -m bench.check_cost [--services 1000] [--rounds 3] [--loop uvloop]

bench/probe_cost.py measures the client alone; the scale scenario the whole daemon. This one
peels the layers in between, in one process, each over the same N services checked once per
round (all rounds concurrently bounded like the scheduler): the lean probe alone, the http
check's run(), the scheduler's run_service (timeouts, semaphore, redaction, the state
tracker), and the same with the daemon's per-check hooks (metrics, check stats, history).
The difference between two rows is what that layer costs per check.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from supervisor.api.history import CheckHistory
from supervisor.events import EventBus
from supervisor.metrics import Metrics
from supervisor.performance import CheckStats
from supervisor.scheduler import Scheduler, ServiceRuntime, add_check_hook
from supervisor.state import StateTracker, Thresholds

import health_checks
from bench.procs import free_port, http_get, wait_for

SERVER = Path(__file__).resolve().parent / "scale_server.py"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _checks(port: int, n: int, reuse: bool) -> list[health_checks.HealthCheck]:
    cls = health_checks.registry.get("http")
    return [cls(cls.config_model.model_validate(
        {"type": "http", "url": f"http://127.0.0.1:{port}/p{i}", "timeout": 2000,
         "reuseConnection": reuse}), f"p{i}") for i in range(n)]


async def _fan(calls: list[Callable[[], Awaitable[object]]], conc: int) -> None:
    sem = asyncio.Semaphore(conc)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with sem:
            await call()
    await asyncio.gather(*(one(c) for c in calls))


async def layer(name: str, port: int, n: int, rounds: int, reuse: bool, conc: int) -> float:
    checks = _checks(port, n, reuse)
    bus = EventBus()
    tracker = StateTracker(bus)
    sched = Scheduler(tracker, bus, conc)
    for i, c in enumerate(checks):
        tracker.add(f"p{i}", Thresholds(1, 1))
        sched.add(ServiceRuntime(f"p{i}", 3600.0, [c]), start=False)
    if name == "scheduler + daemon hooks":
        Metrics(bus, tracker).start(sched)
        add_check_hook(sched, CheckStats().on_check)
        add_check_hook(sched, CheckHistory().on_check)
    calls: list[Callable[[], Awaitable[object]]]
    if name == "lean probe":
        assert all(c.client == "lean" for c in checks)  # type: ignore[attr-defined]
        calls = [c._lean.fetch for c in checks]  # type: ignore[attr-defined]  # noqa: SLF001
    elif name == "http check run()":
        calls = [c.run for c in checks]
    else:
        calls = [lambda i=i: sched.run_service(f"p{i}") for i in range(n)]
    await _fan(calls, conc)  # warm: connections, first results
    cpu0 = _cpu()
    for _ in range(rounds):
        await _fan(calls, conc)
    cpu = _cpu() - cpu0
    for c in checks:
        await c.close()
    return cpu / (n * rounds) * 1e6


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=200)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    a = p.parse_args()
    factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop
    if a.loop == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    port = free_port()
    server = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port), "--paths",
                               str(a.services)], stdout=subprocess.DEVNULL)
    out: dict[str, dict[str, float]] = {}
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/__stats")[0] == 200, 10)
        for reuse in (False, True):
            key = "kept connection" if reuse else "fresh connection"
            for name in ("lean probe", "http check run()", "scheduler run_service",
                         "scheduler + daemon hooks"):
                with asyncio.Runner(loop_factory=factory) as runner:
                    us = runner.run(layer(name, port, a.services, a.rounds, reuse,
                                          a.concurrency))
                out.setdefault(key, {})[name] = round(us, 1)
    finally:
        server.kill()
        server.wait()
    print(json.dumps({"cpu_us_per_check": out, "loop": a.loop,
                      "load_1min": round(os.getloadavg()[0], 2)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
