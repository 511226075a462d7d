"""Ships this node's changed rows to the shared store, in the order they changed.

A loop: read the oldest queued entries (capture.py) in the store's thread, write them to
PostgreSQL in one transaction (upserts keyed by (node, local key), so a batch shipped twice
after a crash lands once), then forget the entries that landed. While PostgreSQL cannot be
reached the entries stay queued in SQLite (counted in /status and the metrics), the outage is
one stored and alerted error (observability/outages.py), and the loop retries with a capped
backoff; when the database answers again the backlog drains by itself, oldest first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

import asyncpg
from loguru import logger

from supervisor.core.tasks import cancel_and_wait
from supervisor.store.database import Store
from supervisor.store.shared import capture
from supervisor.store.shared.schema import BY_NAME
from supervisor.store.shared.shared import SharedStore, SharedStoreDown, describe

BATCH = 500
IDLE_S = 1.0  # a look at the queue this often when it is empty
RETRY_MIN_S, RETRY_MAX_S = 0.5, 5.0
STOP_SHIP_S = 2.0  # the last batch at shutdown may take this long
_LOST = (OSError, TimeoutError, asyncpg.InterfaceError,
         asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError,
         asyncpg.AdminShutdownError)


class Outage(Protocol):
    @property
    def down(self) -> bool: ...

    def failed(self, reason: str) -> None: ...

    async def ok(self) -> None: ...

    def to_dict(self) -> dict[str, Any] | None: ...


class Replicator:
    def __init__(self, store: Store, shared: SharedStore, node: str, outage: Outage,
                 idle_s: float = IDLE_S) -> None:
        self.store = store
        self.shared = shared
        self.node = node
        self.outage = outage
        self.idle_s = idle_s
        self.pending: dict[str, int] = {}
        self.shipped: dict[str, int] = dict.fromkeys(BY_NAME, 0)
        self.refused = 0
        self.last_shipped_at: float | None = None
        self._one_by_one = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def prepare(self) -> None:
        """Triggers on, earlier rows queued: before anything else writes to the store."""
        await self.store.run(capture.install)
        await self._count()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="replicator")

    async def stop(self) -> None:
        """Stop shipping and disconnect; one last batch first when PostgreSQL answers (what
        is still queued stays queued, for the next start)."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
            if not self.outage.down:
                try:
                    await asyncio.wait_for(self.ship_once(), STOP_SHIP_S)
                except (SharedStoreDown, asyncpg.PostgresError, TimeoutError):
                    pass
        await self.shared.close()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        retry = RETRY_MIN_S
        while True:
            try:
                n = await self.ship_once()
                retry = RETRY_MIN_S
                if n < BATCH:
                    await self._idle(self.idle_s)
            except SharedStoreDown as exc:
                self.outage.failed(f"{self.shared.where}: {exc}")
                await self._count()
                await self._idle(retry)
                retry = min(RETRY_MAX_S, retry * 2)
            except asyncpg.PostgresError as exc:
                # A row PostgreSQL refuses must not hold back every row behind it: the next
                # BATCH entries go one by one, and a refused one is dropped (and logged).
                logger.warning("shared store refused a batch ({}); shipping one by one", exc)
                self._one_by_one = BATCH

    async def _idle(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    async def _count(self) -> None:
        self.pending = await self.store.run(capture.pending)

    async def ship_once(self, limit: int = BATCH) -> int:
        """Ship the oldest `limit` queued rows; how many queue entries are done with."""
        pool = await self.shared.ready()
        single = self._one_by_one > 0
        batch = await self.store.run(
            lambda conn: capture.read_batch(conn, 1 if single else limit))
        if batch:
            try:
                async with pool.acquire() as conn, conn.transaction():
                    await self._write(conn, batch)
            except _LOST as exc:
                raise SharedStoreDown(describe(exc)) from exc
            except asyncpg.PostgresError as exc:
                if not single:
                    raise
                logger.error("shared store refused a row of {}, not shipped: {}",
                             ", ".join([*batch.rows, *batch.deleted]), exc)
                self.refused += 1
            await self.store.run(lambda conn: capture.shipped(conn, batch.seqs))
            for tbl, rows in batch.rows.items():
                self.shipped[tbl] += len(rows) + len(batch.deleted.get(tbl, []))
            self.last_shipped_at = time.time()
            self._one_by_one = max(0, self._one_by_one - 1)
        await self.outage.ok()
        await self._count()
        return len(batch)

    async def _write(self, conn: asyncpg.Connection, batch: capture.Batch) -> None:
        for tbl, rows in batch.rows.items():
            t = BY_NAME[tbl]
            if rows:
                await conn.executemany(t.upsert_sql(), [t.values(self.node, r) for r in rows])
            if batch.deleted.get(tbl):
                await conn.execute(t.delete_sql(), self.node, batch.deleted[tbl])

    def to_dict(self) -> dict[str, Any]:
        """For GET /api/monitoring/status (`sharedStore`)."""
        return {"url": self.shared.where, "node": self.node,
                "connected": not self.outage.down, "outage": self.outage.to_dict(),
                "pending": dict(self.pending), "pendingTotal": sum(self.pending.values()),
                "shipped": dict(self.shipped), "refused": self.refused,
                "lastShippedAt": round(self.last_shipped_at * 1000)
                if self.last_shipped_at else None}
