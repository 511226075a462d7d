#!/usr/bin/env python3
"""What the charts cost at N services: the check rollup on the event loop, its batched
writes, the store after a day of minute rows, and the reads behind the charts, the status
page and `soulfra-supervisor status`.

    .venv/bin/python -m bench.series_cost [--services 1000] [--hours 24]

In one process against a fresh store in a temporary directory: no daemon, no network. Prints
one JSON object (times in ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from supervisor.api.routes import status_page
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.observability.check_rollup import CheckRollup
from supervisor.observability.service_series import ServiceSeries, Window
from supervisor.store import incident_timeline
from supervisor.store.database import Store
from supervisor.store.series import transitions_for


def result(i: int, at: float) -> CheckResult:
    ok = i % 97 != 0
    return CheckResult(kind=CheckKind.HEALTHY if ok else CheckKind.UNHEALTHY,
                       latency_ms=5.0 + i % 50, check="health", check_type="http", at=at)


async def timed(fn: Any, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        best = min(best, (time.perf_counter() - started) * 1000)
    return round(best, 1)


async def main(services: int, hours: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    store = Store(tmp / "supervisor.db")
    await store.open()
    rollup = CheckRollup(store)
    names = [f"svc-{i:04d}" for i in range(services)]
    now = time.time()
    out: dict[str, Any] = {"services": services, "hours": hours}

    # 1. on the event loop: one call per check result
    n = 200_000
    results = [result(i, now) for i in range(n)]
    started = time.perf_counter()
    for i, r in enumerate(results):
        rollup.on_check(names[i % services], r)
    out["on_check_us"] = round((time.perf_counter() - started) / n * 1e6, 3)

    # 2. a day of history: every service checked twice a minute; the last 30 minutes flushed
    # one minute at a time (as the daemon does, and timed), the rest an hour at a time
    rollup.flush()
    await store.flush()
    minute_batches = []
    total = hours * 60
    for m in range(total):
        at = now - (total - m) * 60
        for i, name in enumerate(names):
            rollup.on_check(name, result(i + m, at))
            rollup.on_check(name, result(i + m + 1, at + 30))
        if m >= total - 30 or m % 60 == 59:
            started = time.perf_counter()
            rows = rollup.flush()
            await store.flush()
            if m >= total - 30:
                minute_batches.append((time.perf_counter() - started) * 1000)
    minute_batches.sort()
    out["flush_rows"] = rows
    out["flush_ms_p50"] = round(minute_batches[len(minute_batches) // 2], 1)
    out["flush_ms_p95"] = round(minute_batches[int(len(minute_batches) * 0.95)], 1)
    for name in names:
        await store.insert_transition(now - 3 * 86400, name, "unknown", "healthy", "", None)
    await store.flush()
    await store.run(lambda conn: conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
    out["db_mb"] = round((tmp / "supervisor.db").stat().st_size / 1e6, 1)  # noqa: ASYNC240
    out["minute_rows"] = await store.run(
        lambda conn: conn.execute("SELECT COUNT(*) FROM check_minutes").fetchone()[0])

    # 3. reads
    series = ServiceSeries(store, rollup)
    one = names[services // 2]

    def w(span: float, bucket: float) -> Window:
        return Window(time.time() - span, time.time(), bucket)

    out["read_latency_1h_1m_ms"] = await timed(lambda: series.latency([one], w(3600, 60)))
    out["read_latency_24h_15m_ms"] = await timed(lambda: series.latency([one], w(86400, 900)))
    out["read_latency_7d_1h_ms"] = await timed(lambda: series.latency([one], w(7 * 86400,
                                                                              3600)))
    out["read_errors_24h_15m_ms"] = await timed(lambda: series.errors(one, w(86400, 900)))
    out["read_uptime_30d_1d_ms"] = await timed(lambda: series.uptime([one], w(30 * 86400,
                                                                             86400)))
    out["read_all_latency_15m_1m_ms"] = await timed(lambda: series.latency(names, w(900, 60)))
    out["read_all_uptime_24h_ms"] = await timed(lambda: series.uptime(names, w(86400, 86400)))
    out["read_all_transitions_30d_ms"] = await timed(lambda: store.run(
        lambda conn: transitions_for(conn, None, time.time() - 30 * 86400)))

    async def page() -> None:
        up = await series.uptime(names, w(29 * 86400, 86400))
        inc = await store.run(lambda conn: incident_timeline.recent(
            conn, time.time() - 14 * 86400, names, 50))
        status_page.render([(n, "", "healthy", up[n]) for n in names], inc, time.time())
    out["status_page_build_ms"] = await timed(page)
    await store.close()
    out["load_average"] = round(os.getloadavg()[0], 2)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--hours", type=int, default=24)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.services, args.hours)), indent=2))
