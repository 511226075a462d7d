"""How long a /metrics scrape takes, and how big it is, for N services (in-process).

    .venv/bin/python bench/metrics_scrape.py 10 100 1000

The scrape runs on the event loop (prometheus-client renders synchronously), so its time is
time the checks wait.
"""

from __future__ import annotations

import asyncio
import sys
import time

from prometheus_client import generate_latest

from health_checks.base import CheckKind, CheckResult
from supervisor.core.events import EventBus
from supervisor.core.state import StateTracker, Thresholds
from supervisor.observability.metrics import Metrics


async def measure(n: int) -> tuple[float, int]:
    bus = EventBus()
    tracker = StateTracker(bus)
    metrics = Metrics(bus, tracker)
    for i in range(n):
        name = f"svc-{i}"
        tracker.add(name, Thresholds())
        for kind in (CheckKind.HEALTHY, CheckKind.REFUSED):
            r = CheckResult(kind=kind, latency_ms=3.0, check="health", check_type="http")
            metrics.on_check(name, r)
            tracker.record(name, [r])
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        body = generate_latest(metrics.registry)
    return (time.perf_counter() - started) / runs * 1000, len(body)


def main() -> None:
    for n in [int(a) for a in sys.argv[1:]] or [10, 100, 1000]:
        ms, size = asyncio.run(measure(n))
        print(f"{n:>6} services: scrape {ms:7.1f} ms, {size / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
