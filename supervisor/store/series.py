"""The check rollups' tables: per service, per minute and per hour, how many checks ran, how
many failed or were slow, and the min/avg/max latency of the ones that answered.

One row per service per minute is what keeps this cheap at 1,000 services: a check result
costs a dict update in memory (supervisor/observability/check_rollup.py) and the rows reach
SQLite in one batch every FLUSH_S seconds through the store's write queue. Minutes are kept
MINUTES_KEEP_S (charts of the last hour and day); hours as long as the error summaries (7 d
and 30 d views).
Everything here runs in the store's thread with its connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any

MINUTE = 60.0
HOUR = 3600.0
MINUTES_KEEP_S = 2 * 86400.0

# (service, start, checks, failed, degraded, samples, latency_sum, latency_min, latency_max)
Row = tuple[str, float, int, int, int, int, float, float | None, float | None]


_UPSERT = """
INSERT INTO {table} (service, start, checks, failed, degraded, samples, latency_sum,
                     latency_min, latency_max) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(service, start) DO UPDATE SET
    checks = checks + excluded.checks, failed = failed + excluded.failed,
    degraded = degraded + excluded.degraded, samples = samples + excluded.samples,
    latency_sum = latency_sum + excluded.latency_sum,
    latency_min = MIN(COALESCE(latency_min, excluded.latency_min), excluded.latency_min),
    latency_max = MAX(COALESCE(latency_max, excluded.latency_max), excluded.latency_max)
"""


def write_rollup(conn: sqlite3.Connection, rows: list[Row]) -> None:
    """Add minute rows (merging with what a previous flush wrote for the same minute) and fold
    them into their hours; called inside the store's batch transaction."""
    conn.executemany(_UPSERT.format(table="check_minutes"), rows)
    hours: dict[tuple[str, float], list[Any]] = {}
    for service, start, checks, failed, degraded, samples, total, lo, hi in rows:
        key = (service, start - start % HOUR)
        h = hours.get(key)
        if h is None:
            hours[key] = [*key, checks, failed, degraded, samples, total, lo, hi]
            continue
        h[2] += checks
        h[3] += failed
        h[4] += degraded
        h[5] += samples
        h[6] += total
        h[7] = lo if h[7] is None else (h[7] if lo is None else min(h[7], lo))
        h[8] = hi if h[8] is None else (h[8] if hi is None else max(h[8], hi))
    conn.executemany(_UPSERT.format(table="check_hours"), list(hours.values()))


def table_for(bucket_s: float, since: float, now: float) -> str:
    """Minute rows while they are kept and the buckets are finer than an hour; else hours."""
    if bucket_s % HOUR == 0 or since < now - MINUTES_KEEP_S:
        return "check_hours"
    return "check_minutes"


def rollup_series(conn: sqlite3.Connection, services: list[str] | None, since: float,
                  until: float, bucket_s: float, table: str) -> dict[str, list[dict[str, Any]]]:
    """Per service, buckets of `bucket_s` (a multiple of the table's row width) oldest first."""
    assert table in ("check_minutes", "check_hours")
    # Every service: read the window through the time index; SQLite would otherwise walk the
    # whole primary key (service, start) to save itself the GROUP BY's sort.
    index = f" INDEXED BY {table}_start" if services is None else ""
    sql = (f"SELECT service, CAST(start / ? AS INTEGER) * ? AS b, SUM(checks), SUM(failed), "
           f"SUM(degraded), SUM(samples), SUM(latency_sum), MIN(latency_min), "
           f"MAX(latency_max) FROM {table}{index} WHERE start >= ? AND start < ?")
    args: list[Any] = [bucket_s, bucket_s, since - since % bucket_s, until]
    if services is not None:
        sql += f" AND service IN ({', '.join('?' for _ in services)})"
        args.extend(services)
    sql += " GROUP BY service, b ORDER BY service, b"
    out: dict[str, list[dict[str, Any]]] = {}
    for service, b, checks, failed, degraded, samples, total, lo, hi in conn.execute(sql, args):
        out.setdefault(service, []).append({
            "start": float(b), "checks": int(checks), "failed": int(failed),
            "degraded": int(degraded), "samples": int(samples),
            "avg": total / samples if samples else None, "min": lo, "max": hi})
    return out


def error_counts(conn: sqlite3.Connection, service: str, since: float, until: float,
                 bucket_s: float) -> dict[float, int]:
    """Stored errors (incidents declared, services' own reports) per bucket start."""
    rows = conn.execute(
        "SELECT CAST(created_at / ? AS INTEGER) * ? AS b, COUNT(*) FROM errors "
        "WHERE service = ? AND created_at >= ? AND created_at < ? GROUP BY b",
        (bucket_s, bucket_s, service, since, until))
    return {float(b): int(n) for b, n in rows}


def prune(conn: sqlite3.Connection, now: float, hours_before: float,
          chunk: int = 5000) -> int:
    """One chunk of old rollup rows (in the caller's transaction); the caller repeats while a
    full chunk went."""
    removed = 0
    for table, cut in (("check_minutes", now - MINUTES_KEEP_S), ("check_hours", hours_before)):
        removed += conn.execute(
            f"DELETE FROM {table} WHERE (service, start) IN (SELECT service, start "
            f"FROM {table} WHERE start < ? LIMIT ?)", (cut, chunk)).rowcount
    return removed


def transitions_for(conn: sqlite3.Connection, services: list[str] | None,
                    since: float) -> dict[str, list[dict[str, Any]]]:
    """Per service: its transitions since `since`, led by its last one before (its state at
    `since`); `services` None means all."""
    where, args = "", list[Any]()
    if services is not None:
        where = f" AND service IN ({', '.join('?' for _ in services)})"
        args = list(services)
    before = conn.execute(
        "SELECT t.* FROM transitions t JOIN (SELECT MAX(id) AS id FROM transitions "
        f"WHERE at < ?{where} GROUP BY service) last ON t.id = last.id", [since, *args])
    after = conn.execute(f"SELECT * FROM transitions WHERE at >= ?{where} ORDER BY id",
                         [since, *args])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in [*before, *after]:
        out.setdefault(r["service"], []).append(dict(r))
    return out
