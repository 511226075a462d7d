"""Pre-bucketed history of services for charts: latency (min/avg/max of the checks that
answered), errors (failed checks per bucket and the errors stored) and uptime (time per state
from the transitions). Every bucket of the window is present, oldest first; an empty one has
nulls, so a chart draws a gap instead of a line across it. Times out are ms."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from supervisor.core.uptime import state_buckets, uptime_percent
from supervisor.store import series as series_sql

if TYPE_CHECKING:
    from supervisor.observability.check_rollup import CheckRollup
    from supervisor.store.database import Store

METRICS = ("latency", "errors", "uptime")
MAX_BUCKETS = 1500
NICE_BUCKETS = (1, 5, 10, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400)


@dataclass(frozen=True)
class Window:
    since: float
    until: float
    bucket_s: float

    @property
    def starts(self) -> list[float]:
        first = self.since - self.since % self.bucket_s
        n = int((self.until - first) // self.bucket_s) + 1
        return [first + i * self.bucket_s for i in range(n)]


def default_bucket(span_s: float, resolution_s: float = 60.0) -> float:
    """About 60-180 buckets for the window: 1 h → 1 min, 24 h → 15 min, 7 d → 1 h, 30 d →
    6 h (never finer than the rollup's rows)."""
    for b in NICE_BUCKETS:
        if span_s / b <= 180 and b >= resolution_s and b % resolution_s == 0:
            return float(b)
    return float(NICE_BUCKETS[-1])


def check_window(metric: str, w: Window, now: float, resolution_s: float) -> str | None:
    """What is wrong with this window for this metric (a message), or None."""
    if w.bucket_s < resolution_s or w.bucket_s % resolution_s:
        return (f"bucket must be a whole multiple of the rollup resolution "
                f"({resolution_s:g} s): 1m, 5m, 1h, 1d")
    if (w.until - w.since) / w.bucket_s > MAX_BUCKETS:
        return f"more than {MAX_BUCKETS} buckets: choose a longer bucket or a shorter since"
    if metric != "uptime" and series_sql.table_for(w.bucket_s, w.since, now) == "check_hours" \
            and w.bucket_s % 3600:
        return ("minute rows are kept for 48 h: for an older since the bucket must be whole "
                "hours (1h, 6h, 1d)")
    return None


def _narrow(services: list[str] | None) -> list[str] | None:
    """A short list becomes `IN (...)`; a long one (every service) reads the window whole,
    which is one index range instead of a thousand lookups; callers pick their names."""
    return services if services is not None and len(services) <= 50 else None


class ServiceSeries:
    def __init__(self, store: Store, rollup: CheckRollup) -> None:
        self.store = store
        self.rollup = rollup

    async def rollups(self, services: list[str] | None,
                      w: Window) -> dict[str, list[dict[str, Any]]]:
        await self.rollup.fresh()
        table = series_sql.table_for(w.bucket_s, w.since, time.time())
        return await self.store.run(lambda conn: series_sql.rollup_series(
            conn, _narrow(services), w.since, w.until, w.bucket_s, table))

    @staticmethod
    def fill(rows: list[dict[str, Any]], w: Window, keys: tuple[str, ...]) -> list[dict[str, Any]]:
        by_start = {r["start"]: r for r in rows}
        out = []
        for start in w.starts:
            r = by_start.get(start)
            point: dict[str, Any] = {"start": round(start * 1000)}
            for k in keys:
                v = r.get(k) if r else None
                point[k] = round(v, 2) if isinstance(v, float) else v
            out.append(point)
        return out

    async def latency(self, services: list[str] | None,
                      w: Window) -> dict[str, list[dict[str, Any]]]:
        rows = await self.rollups(services, w)
        names = services if services is not None else sorted(rows)
        return {n: self.fill(rows.get(n, []), w,
                             ("avg", "min", "max", "samples", "checks", "failed", "degraded"))
                for n in names}

    async def errors(self, service: str, w: Window) -> list[dict[str, Any]]:
        rows = (await self.rollups([service], w)).get(service, [])
        stored = await self.store.run(lambda conn: series_sql.error_counts(
            conn, service, w.since, w.until, w.bucket_s))
        points = self.fill(rows, w, ("checks", "failed", "degraded"))
        for p in points:
            checks, failed = p["checks"] or 0, p["failed"] or 0
            p["rate"] = round(100.0 * failed / checks, 2) if checks else None
            p["errors"] = stored.get(p["start"] / 1000, 0)
        return points

    async def uptime(self, services: list[str] | None, w: Window,
                     ) -> dict[str, dict[str, Any]]:
        """Per service: buckets of time per state and the uptime of the whole window."""
        by_service = await self.store.run(
            lambda conn: series_sql.transitions_for(conn, _narrow(services), w.since))
        names = services if services is not None else sorted(by_service)
        out = {}
        for n in names:
            rows = by_service.get(n, [])
            buckets = state_buckets(rows, w.since, w.until, w.bucket_s)
            for b in buckets:
                b["start"] = round(b["start"] * 1000)
            counted = any(b["uptime"] is not None for b in buckets)
            out[n] = {"uptime": round(uptime_percent(rows, w.since, w.until, {n}), 3)
                      if counted else None, "points": buckets}
        return out
