"""Retention: detail rows are deleted after ERROR_RETENTION_DAYS, summaries after 30 days."""

from __future__ import annotations

from collections import Counter

from supervisor.store.connection import StoreConnection
from supervisor.store.errors import hour_of


class Retention(StoreConnection):
    async def prune(self, detail_before: float, summary_before: float,
                    chunk: int = 5000) -> dict[str, int]:
        """Delete detail rows older than `detail_before` and summaries older than
        `summary_before`, in chunks so that other queries get the thread in between."""
        removed: Counter[str] = Counter()
        steps = [
            ("errors", "DELETE FROM errors WHERE rowid IN (SELECT rowid FROM errors "
                       "WHERE created_at < ? LIMIT ?)", detail_before),
            ("recoveries", "DELETE FROM recoveries WHERE rowid IN (SELECT rowid FROM "
                           "recoveries WHERE created_at < ? LIMIT ?)", detail_before),
            ("error_hourly", "DELETE FROM error_hourly WHERE rowid IN (SELECT rowid FROM "
                             "error_hourly WHERE hour < ? LIMIT ?)", hour_of(summary_before)),
            ("error_groups", "DELETE FROM error_groups WHERE rowid IN (SELECT rowid FROM "
                             "error_groups WHERE last_seen < ? LIMIT ?)", summary_before),
            ("error_group_releases", "DELETE FROM error_group_releases WHERE rowid IN (SELECT "
                                     "rowid FROM error_group_releases WHERE last_seen < ? "
                                     "LIMIT ?)", summary_before),
            # a service's last transition before the cut is kept: it is its starting state
            ("transitions", "DELETE FROM transitions WHERE id IN (SELECT id FROM transitions "
                            "WHERE at < ? AND id NOT IN (SELECT MAX(id) FROM transitions "
                            "GROUP BY service) LIMIT ?)", summary_before),
        ]
        for table, sql, cut in steps:
            while True:
                def q(sql: str = sql, cut: float = cut) -> int:
                    with self.conn:
                        return self.conn.execute(sql, (cut, chunk)).rowcount
                n = await self._in_thread(q)
                removed[table] += n
                if n < chunk:
                    break
        return dict(removed)
