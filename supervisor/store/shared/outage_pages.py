"""One page per outage of something every node depends on, agreed through the shared store.

When the cluster's Redis goes away, every node loses it at once and each stores the outage as
an error of its own; the alert should go out once. Redis cannot arbitrate its own outage, so
the nodes agree in PostgreSQL (`soulfra.outage_pages`, schema step 2): the first node to
insert the open row for `what` pages; the others defer to it. The first node to see it end
closes the row and sends "recovered" (also when the node that paged has died since). A node
that notices the outage only after it was closed (its outage began before the close) does not
page again. PostgreSQL unreachable (it may be the outage): the node pages itself — a duplicate
beats silence. Times: each node's wall clock against the server's `now()` (NTP expected).
"""

from __future__ import annotations

import asyncpg
from loguru import logger

from supervisor.store.shared.schema import SCHEMA
from supervisor.store.shared.shared import SharedStore, SharedStoreDown

_TABLE = f"{SCHEMA}.outage_pages"
_DOWN = (SharedStoreDown, OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)


class SharedOutagePages:
    def __init__(self, store: SharedStore, node: str) -> None:
        self.store = store
        self.node = node
        # outages this node paged about without a row (PostgreSQL away): it says the end too
        self._solo: set[str] = set()

    async def opening(self, what: str, since: float) -> str:
        try:
            pool = await self.store.ready()
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", what)
                paged = await conn.fetchval(
                    f"SELECT opened_by FROM {_TABLE} WHERE what = $1 AND closed_at IS NULL",
                    what)
                if paged is None:  # the same outage, already over, seen late by this node
                    paged = await conn.fetchval(
                        f"SELECT closed_by FROM {_TABLE} WHERE what = $1 "
                        "AND closed_at >= to_timestamp($2) ORDER BY closed_at DESC LIMIT 1",
                        what, since)
                if paged is None:
                    await conn.execute(f"INSERT INTO {_TABLE} (what, opened_by) VALUES ($1, $2)",
                                       what, self.node)
                    return ""
                return str(paged)
        except _DOWN as exc:
            logger.warning("alerts: {}: the shared store cannot say who pages ({}); paging "
                           "from this node (another node may page too)", what, exc)
            self._solo.add(what)
            return ""

    async def closing(self, what: str) -> bool:
        solo = what in self._solo
        self._solo.discard(what)
        try:
            pool = await self.store.ready()
            closed = await pool.fetchval(
                f"UPDATE {_TABLE} SET closed_by = $2, closed_at = now() "
                "WHERE what = $1 AND closed_at IS NULL RETURNING closed_by", what, self.node)
        except _DOWN as exc:
            logger.warning("alerts: {}: the shared store cannot say who sends 'recovered' "
                           "({}); sending it from this node", what, exc)
            return True
        return closed is not None or solo

