"""Error groups (one per fingerprint: counts, first/last seen, status, regressions) and the
hourly summaries that trends and per-category counts read, kept longer than the errors."""

from __future__ import annotations

import json
import time
from typing import Any

from supervisor.store.errors import ERROR_JSON, ErrorTables, hour_of


class ErrorGroupTables(ErrorTables):
    async def errors_by(self, column: str, since: float) -> dict[str, int]:
        """Counts per category (or severity, level, service) since a time, from the hourly
        summaries, so that this stays cheap on a large store."""
        if column not in ("category", "severity", "service"):
            raise ValueError(column)

        def q() -> dict[str, int]:
            rows = self.conn.execute(
                f"SELECT {column}, SUM(count) FROM error_hourly WHERE hour >= ? "
                f"GROUP BY {column} ORDER BY 2 DESC", (hour_of(since),)).fetchall()
            return {r[0]: int(r[1]) for r in rows}
        return await self._in_thread(q)

    async def trends(self, since: float, until: float, bucket_s: float,
                     service: str | None = None) -> list[dict[str, Any]]:
        """Error counts per bucket (a multiple of an hour) and category, oldest first."""
        def q() -> list[dict[str, Any]]:
            sql = ("SELECT hour, category, SUM(count) FROM error_hourly "
                   "WHERE hour >= ? AND hour < ?")
            args: list[Any] = [hour_of(since), until]
            if service is not None:
                sql += " AND service = ?"
                args.append(service)
            sql += " GROUP BY hour, category ORDER BY hour"
            buckets: dict[float, dict[str, int]] = {}
            for hour, category, n in self.conn.execute(sql, args):
                start = hour - (hour % bucket_s)
                b = buckets.setdefault(start, {})
                b[category] = b.get(category, 0) + int(n)
            return [{"start": start, "total": sum(c.values()), "byCategory": c}
                    for start, c in sorted(buckets.items())]
        return await self._in_thread(q)

    async def set_error_status(self, error_id: str, status: str, note: str | None,
                               by: str) -> dict[str, Any] | None:
        """Set an error's resolution status, and its group's: the group is the problem."""
        await self.flush()

        def q() -> dict[str, Any] | None:
            row = self._row(self.conn.execute("SELECT * FROM errors WHERE id = ?",
                                              (error_id,)).fetchone(), ERROR_JSON)
            if row is None:
                return None
            now = time.time()
            context = row["context"]
            context["resolution"] = {"status": status, "note": note, "by": by,
                                     "at": round(now * 1000)}
            with self.conn:
                self.conn.execute("UPDATE errors SET status = ?, context = ?, updated_at = ? "
                                  "WHERE id = ?", (status, json.dumps(context), now, error_id))
                if row.get("fingerprint"):
                    self._set_group(row["fingerprint"], status, note, now)
            return self._row(self.conn.execute("SELECT * FROM errors WHERE id = ?",
                                               (error_id,)).fetchone(), ERROR_JSON)
        return await self._in_thread(q)

    def _set_group(self, fp: str, status: str, note: str | None, now: float) -> None:
        self.conn.execute("UPDATE error_groups SET status = ?, status_note = ?, status_at = ?, "
                          "regressed = CASE WHEN ? = 'resolved' THEN 0 ELSE regressed END "
                          "WHERE fingerprint = ?", (status, note, now, status, fp))

    async def set_group_status(self, fp: str, status: str, note: str | None,
                               ) -> dict[str, Any] | None:
        """Set a group's status; its open (pending) errors take the same status."""
        await self.flush()

        def q() -> dict[str, Any] | None:
            now = time.time()
            with self.conn:
                self._set_group(fp, status, note, now)
                if status != "pending":
                    self.conn.execute("UPDATE errors SET status = ?, updated_at = ? "
                                      "WHERE fingerprint = ? AND status = 'pending'",
                                      (status, now, fp))
            row = self.conn.execute("SELECT * FROM error_groups WHERE fingerprint = ?",
                                    (fp,)).fetchone()
            return dict(row) if row is not None else None
        return await self._in_thread(q)

    async def error_groups(self, *, status: list[str] | None = None,
                           service: str | None = None, category: list[str] | None = None,
                           regressed: bool | None = None, since: float | None = None,
                           limit: int = 100, sort: str = "last_seen") -> list[dict[str, Any]]:
        order = {"last_seen": "last_seen DESC", "count": "count DESC, last_seen DESC",
                 "first_seen": "first_seen DESC"}[sort]

        def q() -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM error_groups WHERE 1=1", list[Any]()
            if status:
                sql += f" AND status IN ({', '.join('?' for _ in status)})"
                args.extend(status)
            if category:
                sql += f" AND category IN ({', '.join('?' for _ in category)})"
                args.extend(category)
            if service is not None:
                sql += " AND service = ?"
                args.append(service)
            if regressed is not None:
                sql += " AND regressed = ?"
                args.append(int(regressed))
            if since is not None:
                sql += " AND last_seen >= ?"
                args.append(since)
            sql += f" ORDER BY {order} LIMIT ?"
            return [dict(r) for r in self.conn.execute(sql, [*args, limit])]
        return await self._in_thread(q)

    async def get_group(self, fp: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM error_groups WHERE fingerprint = ?",
                                    (fp,)).fetchone()
            return dict(row) if row is not None else None
        return await self._in_thread(q)

    async def group_releases(self, fp: str) -> list[dict[str, Any]]:
        """The group's counts per release, newest first."""
        def q() -> list[dict[str, Any]]:
            rows = self.conn.execute("SELECT release, count, first_seen, last_seen FROM "
                                     "error_group_releases WHERE fingerprint = ? ORDER BY "
                                     "last_seen DESC LIMIT 50", (fp,)).fetchall()
            return [dict(r) for r in rows]
        return await self._in_thread(q)
