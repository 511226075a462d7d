"""The errors table: every error stored (detections, reports), and how it is read back.

Each batch of writes also folds its errors into their fingerprint groups and hourly summaries
(error_groups.py reads those), in the same transaction.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections import Counter
from typing import Any

from loguru import logger

from supervisor.core.taxonomy import fingerprint
from supervisor.store.connection import StoreConnection
from supervisor.store.write_queue import Op

ERROR_JSON = ("context",)
HOUR = 3600.0
STATUSES = ("pending", "resolved", "ignored", "workaround")

_GROUP_UPSERT = """
INSERT INTO error_groups (fingerprint, service, category, type, level, severity, message, count,
                          first_seen, last_seen, last_error_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(fingerprint) DO UPDATE SET
    count = count + excluded.count,
    last_seen = MAX(last_seen, excluded.last_seen),
    first_seen = MIN(first_seen, excluded.first_seen),
    last_error_id = COALESCE(excluded.last_error_id, last_error_id),
    severity = excluded.severity,
    regressed = CASE WHEN status = 'resolved' THEN 1 ELSE regressed END,
    regressed_at = CASE WHEN status = 'resolved' THEN excluded.last_seen ELSE regressed_at END,
    regressions = regressions + (status = 'resolved'),
    status = CASE WHEN status = 'resolved' THEN 'pending' ELSE status END
"""
_HOURLY_UPSERT = """
INSERT INTO error_hourly (hour, service, category, severity, count) VALUES (?, ?, ?, ?, ?)
ON CONFLICT(hour, service, category, severity) DO UPDATE SET count = count + excluded.count
"""
_RELEASE_UPSERT = """
INSERT INTO error_group_releases (fingerprint, release, count, first_seen, last_seen)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT(fingerprint, release) DO UPDATE SET count = count + excluded.count,
    first_seen = MIN(first_seen, excluded.first_seen),
    last_seen = MAX(last_seen, excluded.last_seen)
"""


def hour_of(t: float) -> float:
    return t - (t % HOUR)


def error_where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    """WHERE clause for error filters (`?` placeholders); list values mean any of them.
    The shared store (store/shared/shared.py) reads its errors with the same filters."""
    sql, args = "1=1", []
    for col in ("service", "severity", "category", "status", "level", "type",
                "fingerprint", "correlation_id", "source"):
        value = filters.get(col)
        if value is None or value == []:
            continue
        values = value if isinstance(value, list) else [value]
        sql += f" AND {col} IN ({', '.join('?' for _ in values)})"
        args.extend(values)
    if filters.get("since") is not None:
        sql += " AND created_at >= ?"
        args.append(filters["since"])
    if filters.get("until") is not None:
        sql += " AND created_at < ?"
        args.append(filters["until"])
    return sql, args


class ErrorTables(StoreConnection):
    def _begin_batch(self) -> None:
        super()._begin_batch()
        self._groups: dict[str, list[Any]] = {}
        self._hourly: Counter[tuple[float, str, str, str]] = Counter()
        self._releases: dict[tuple[str, str], list[Any]] = {}

    def _end_batch(self) -> None:
        if self._groups:
            self.conn.executemany(_GROUP_UPSERT, list(self._groups.values()))
        if self._hourly:
            self.conn.executemany(_HOURLY_UPSERT, [(*k, n) for k, n in self._hourly.items()])
        if self._releases:
            self.conn.executemany(_RELEASE_UPSERT, list(self._releases.values()))
        super()._end_batch()

    def _write_error(self, payload: dict[str, Any]) -> None:
        if not payload.get("fingerprint"):
            # computed here, in the store's thread, off the event loop
            payload["fingerprint"] = fingerprint(payload.get("service"), payload["category"],
                                                 payload["message"])
        self._insert("errors", payload, ERROR_JSON)
        self._fold(payload, self._groups, self._hourly, self._releases)

    def _write_error_seen(self, payload: dict[str, Any]) -> None:
        """A sampled-out reported error: counted in its group and hour, no row of its own."""
        self._fold(payload, self._groups, self._hourly, self._releases)

    def _write_error_update(self, payload: tuple[str, dict[str, Any]]) -> None:
        self._update("errors", payload[0], payload[1], ERROR_JSON)

    def _retry_alone(self, op: Op, exc: sqlite3.IntegrityError) -> bool:
        """Ids are 32 random bits (the SPEC's SE_xxxxxxxx): on a collision draw again."""
        if op[0] != "error" or "errors.id" not in str(exc):
            return super()._retry_alone(op, exc)
        for _ in range(10):
            op[1]["id"] = "SE_" + secrets.token_hex(4)
            try:
                self._apply_batch([op])
                return True
            except sqlite3.IntegrityError as again:
                if "errors.id" not in str(again):
                    raise
        logger.error("store dropped an error: no free id after 10 draws")
        return True

    @staticmethod
    def _fold(row: dict[str, Any], groups: dict[str, list[Any]],
              hourly: Counter[tuple[float, str, str, str]],
              releases: dict[tuple[str, str], list[Any]]) -> None:
        fp, at = row["fingerprint"], row["created_at"]
        if fp is None:
            return
        g = groups.get(fp)
        if g is None:
            groups[fp] = [fp, row.get("service"), row["category"], row["type"], row["level"],
                          row["severity"], row["message"][:500], 1, at, at, row.get("id")]
        else:
            g[7] += 1
            g[8] = min(g[8], at)
            if at >= g[9]:
                g[9], g[5] = at, row["severity"]
                g[10] = row.get("id") or g[10]
        if row.get("release"):
            r = releases.get((fp, row["release"]))
            if r is None:
                releases[(fp, row["release"])] = [fp, row["release"], 1, at, at]
            else:
                r[2] += 1
                r[3], r[4] = min(r[3], at), max(r[4], at)
        hourly[(hour_of(at), row.get("service") or "", row["category"], row["severity"])] += 1

    # -- errors -----------------------------------------------------------------------------
    async def insert_error(self, row: dict[str, Any]) -> bool:
        """Store an error and wait for its commit (False: queued while the store cannot write)."""
        return await self.writes.put(("error", row))

    def submit_error(self, row: dict[str, Any]) -> bool:
        """Store an error without waiting; False when the queue was full and it was dropped."""
        return self.writes.submit(("error", row))

    def submit_seen(self, row: dict[str, Any]) -> bool:
        """Count an error in its group and hourly summary without storing its row (sampling)."""
        return self.writes.submit(("error_seen", row))

    async def update_error(self, error_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        await self.writes.put(("error_update", (error_id, fields)))

    async def get_error(self, error_id: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM errors WHERE id = ?", (error_id,)).fetchone()
            return self._row(row, ERROR_JSON)
        return await self._in_thread(q)

    async def errors_for_incident(self, correlation_id: str) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            rows = self.conn.execute("SELECT * FROM errors WHERE correlation_id = ? "
                                     "ORDER BY created_at", (correlation_id,)).fetchall()
            return [self._row(r, ERROR_JSON) or {} for r in rows]
        return await self._in_thread(q)

    async def list_errors(self, since: float | None = None, service: str | None = None,
                          limit: int = 100, *, after: tuple[float, str] | None = None,
                          **filters: Any) -> list[dict[str, Any]]:
        """Newest first. `after` is a keyset cursor (created_at, id) of the last row already
        seen: rows inserted meanwhile never shift a page, so nothing repeats or goes missing."""
        filters.update(since=since, service=service)

        def q() -> list[dict[str, Any]]:
            where, args = error_where(filters)
            if after is not None:
                where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
                args.extend([after[0], after[0], after[1]])
            sql = f"SELECT * FROM errors WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"
            return [self._row(r, ERROR_JSON) or {}
                    for r in self.conn.execute(sql, [*args, limit])]
        return await self._in_thread(q)

    async def error_summary(self, since: float | None = None, **filters: Any) -> dict[str, int]:
        filters["since"] = since or 0

        def q() -> dict[str, int]:
            where, args = error_where(filters)
            row = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(recovered), 0), COALESCE(SUM(recovery_failed), 0)"
                f" FROM errors WHERE {where}", args).fetchone()
            total, recovered, failed = row[0], row[1], row[2]
            return {"total": total, "recovered": recovered, "failed": failed,
                    "pending": total - recovered - failed}
        return await self._in_thread(q)

    async def count_errors(self, since: float) -> int:
        def q() -> int:
            return int(self.conn.execute("SELECT COUNT(*) FROM errors WHERE created_at >= ?",
                                         (since,)).fetchone()[0])
        return await self._in_thread(q)
