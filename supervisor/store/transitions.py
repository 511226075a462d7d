"""The transitions table: every change of a service's state (uptime is computed from it)."""

from __future__ import annotations

from typing import Any

from supervisor.core.redaction import redact_text
from supervisor.store.connection import StoreConnection


class TransitionTables(StoreConnection):
    def _write_transition(self, payload: dict[str, Any]) -> None:
        self._insert("transitions", payload, ())

    async def insert_transition(self, at: float, service: str, previous: str, state: str,
                                reason: str, correlation_id: str | None) -> None:
        row = {"at": at, "service": service, "previous": previous, "state": state,
               "reason": redact_text(reason), "correlation_id": correlation_id}
        await self.writes.put(("transition", row))

    async def transitions(self, since: float) -> list[dict[str, Any]]:
        """Transitions after `since`, plus each service's last one before it (its start state)."""
        def q() -> list[dict[str, Any]]:
            before = self.conn.execute(
                "SELECT t.* FROM transitions t JOIN (SELECT service, MAX(id) AS id FROM "
                "transitions WHERE at < ? GROUP BY service) last ON t.id = last.id",
                (since,)).fetchall()
            after = self.conn.execute("SELECT * FROM transitions WHERE at >= ? ORDER BY id",
                                      (since,)).fetchall()
            return [dict(r) for r in [*before, *after]]
        return await self._in_thread(q)

    async def service_transitions(self, service: str, limit: int = 50) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            rows = self.conn.execute("SELECT * FROM transitions WHERE service = ? "
                                     "ORDER BY id DESC LIMIT ?", (service, limit)).fetchall()
            return [dict(r) for r in rows]
        return await self._in_thread(q)
