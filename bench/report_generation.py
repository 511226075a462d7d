"""Health report generation on 7 days of synthetic history (target: under 10 s).

Fills a fresh store through its normal write path (batched, folded into groups and hourly
summaries) with DAYS days of history for SERVICES services: an incident per service every
few hours (failing → recovering → healthy transitions, a recovery run with attempts) and
ERRORS_PER_DAY errors spread over the period; then times `build_report` + `write_report`
for a 24 h window (the default) and for the whole 7 days.

    .venv/bin/python bench/report_generation.py
    .venv/bin/python bench/report_generation.py --errors-per-day 100000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supervisor.core.events import EventBus  # noqa: E402
from supervisor.core.incidents import error_row  # noqa: E402
from supervisor.core.state import StateTracker, Thresholds  # noqa: E402
from supervisor.core.taxonomy import LOST, REFUSED, TIMEOUT  # noqa: E402
from supervisor.observability.reports import build_report, write_report  # noqa: E402
from supervisor.store.database import Store  # noqa: E402

DAY = 86400.0


async def fill(store: Store, days: int, services: int, errors_per_day: int,
               now: float) -> dict[str, float]:
    rng = random.Random(7)
    start = now - days * DAY
    t0 = time.perf_counter()
    transitions = recoveries = 0
    for s in range(services):
        name = f"svc{s}"
        await store.insert_transition(start - 60, name, "unknown", "healthy", "first check", None)
        t = start + rng.uniform(0, 3 * 3600)
        while t < now - 600:
            cid = f"inc_{s:04d}{int(t):08x}"
            down = rng.uniform(5, 300)
            store.writes.submit(("transition", {"at": t, "service": name,
                                                "previous": "healthy", "state": "failing",
                                                "reason": "refused", "correlation_id": cid}))
            store.writes.submit(("transition", {"at": t + 1, "service": name,
                                                "previous": "failing", "state": "recovering",
                                                "reason": "recovery", "correlation_id": cid}))
            store.writes.submit(("transition", {"at": t + down, "service": name,
                                                "previous": "recovering", "state": "healthy",
                                                "reason": "recovered", "correlation_id": cid}))
            ok = rng.random() < 0.85
            store.writes.submit(("recovery", {
                "id": f"RC_{s:04d}{int(t):08x}", "service": name, "action": "auto",
                "requested_by": "auto", "status": "succeeded" if ok else "failed",
                "created_at": t + 1, "finished_at": t + down, "duration_ms": int(down * 1000),
                "correlation_id": cid, "message": "", "plan": [],
                "attempts": [{"strategy": "restart_command", "attempt": 1,
                              "durationMs": rng.uniform(200, 4000), "ok": ok}]}))
            transitions += 3
            recoveries += 1
            t += rng.uniform(2 * 3600, 8 * 3600)
    total = errors_per_day * days
    classes = [TIMEOUT, REFUSED, LOST]
    for i in range(total):
        at = start + (i + rng.random()) * (days * DAY / total)
        svc = f"svc{rng.randrange(services)}"
        row = error_row(classes[i % 3], svc,
                        f"no answer from http://127.0.0.1:{8000 + i % services}/health "
                        f"within {rng.randrange(1000, 9000)} ms", at=at,
                        correlation_id=f"inc_{i:012x}", env={"host": "bench"})
        # the queue's fill level has no event to wait on: poll it
        while store.writes.pending >= store.writes.max_pending - 10:  # noqa: ASYNC110
            await asyncio.sleep(0.005)  # back-pressure: a fill must not shed rows
        store.submit_error(row)
        if i % 2000 == 0:
            await asyncio.sleep(0)
    await store.flush(within=600)
    fill_s = time.perf_counter() - t0
    return {"errors": total, "dropped": store.writes.health.dropped,
            "transitions": transitions, "recoveries": recoveries,
            "fillSeconds": round(fill_s, 1), "insertRatePerS": round(total / fill_s)}


async def main(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="report-bench-"))
    store = Store(tmp / "supervisor.db", max_pending=50_000)
    await store.open()
    now = time.time()
    filled = await fill(store, args.days, args.services, args.errors_per_day, now)
    tracker = StateTracker(EventBus())
    for s in range(args.services):
        tracker.add(f"svc{s}", Thresholds())
    out: dict[str, object] = {"history": filled,
                              "dbMB": round((tmp / "supervisor.db").stat().st_size / 2**20, 1)}
    for label, window in (("24h", DAY), ("7d", args.days * DAY)):
        t0 = time.perf_counter()
        report = await build_report(store, tracker, window, now=now)
        write_report(report, tmp / "reports")
        out[f"report{label}Seconds"] = round(time.perf_counter() - t0, 3)
        out[f"report{label}Errors"] = report["errors"]["total"]
    await store.close()
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--errors-per-day", type=int, default=50_000)
    print(json.dumps(asyncio.run(main(p.parse_args())), indent=2))
