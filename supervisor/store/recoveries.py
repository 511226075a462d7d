"""The recoveries table: every recovery run and one-shot action (recovery/journal.py), and
recovery_state (breaker, backoff, pause per service: recovery/saved_state.py)."""

from __future__ import annotations

from typing import Any

from supervisor.store.connection import StoreConnection

RECOVERY_JSON = ("attempts", "plan")


class RecoveryTables(StoreConnection):
    def _write_recovery(self, payload: dict[str, Any]) -> None:
        self._insert("recoveries", payload, RECOVERY_JSON)

    def _write_recovery_update(self, payload: tuple[str, dict[str, Any]]) -> None:
        self._update("recoveries", payload[0], payload[1], RECOVERY_JSON)

    def _write_recovery_state(self, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f"INSERT OR REPLACE INTO recovery_state ({cols}) VALUES ({marks})",
                          list(row.values()))

    async def save_recovery_state(self, row: dict[str, Any]) -> bool:
        """A service's breaker/backoff/pause row (recovery/saved_state.py), queued and retried
        like every other write: a full disk delays it, it lands when the store writes again."""
        return await self.writes.put(("recovery_state", row))

    async def insert_recovery(self, row: dict[str, Any]) -> None:
        await self.writes.put(("recovery", row))

    async def update_recovery(self, recovery_id: str, **fields: Any) -> None:
        await self.writes.put(("recovery_update", (recovery_id, fields)))

    async def get_recovery(self, recovery_id: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM recoveries WHERE id = ?",
                                    (recovery_id,)).fetchone()
            return self._row(row, RECOVERY_JSON)
        return await self._in_thread(q)

    async def count_recoveries(self, since: float, status: str,
                               requested_by: str | None = None) -> int:
        def q() -> int:
            sql = "SELECT COUNT(*) FROM recoveries WHERE created_at >= ? AND status = ?"
            args: list[Any] = [since, status]
            if requested_by is not None:
                sql += " AND requested_by = ?"
                args.append(requested_by)
            return int(self.conn.execute(sql, args).fetchone()[0])
        return await self._in_thread(q)

    async def unfinished_recoveries(self) -> list[dict[str, Any]]:
        """Recoveries stored as queued or running: at start, the ones an earlier boot left."""
        def q() -> list[dict[str, Any]]:
            return [self._row(r, RECOVERY_JSON) or {} for r in self.conn.execute(
                "SELECT * FROM recoveries WHERE status IN ('queued', 'running') "
                "ORDER BY created_at")]
        return await self._in_thread(q)

    async def list_recoveries(self, since: float, service: str | None = None,
                              limit: int = 1000) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM recoveries WHERE created_at >= ?", list[Any]([since])
            if service is not None:
                sql += " AND service = ?"
                args.append(service)
            sql += " ORDER BY created_at DESC LIMIT ?"
            return [self._row(r, RECOVERY_JSON) or {}
                    for r in self.conn.execute(sql, [*args, limit])]
        return await self._in_thread(q)
