"""The connection to the shared store (a pool of asyncpg connections) and what the API reads
from it: the cluster's errors, with the local store's filters, order and cursor.

The pool opens no connection until one is needed, so a daemon starts while PostgreSQL is down;
every failure to reach it is raised as SharedStoreDown, which the callers turn into "answer
from the local store" (the API) or "keep the rows queued" (the replicator).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from supervisor.store.errors import ERROR_JSON, error_where
from supervisor.store.shared.schema import SCHEMA, SchemaTooNew, migrate

CONNECT_TIMEOUT_S = 3.0
COMMAND_TIMEOUT_S = 10.0


class SharedStoreDown(Exception):
    """PostgreSQL could not be reached or refused the work; the message says why."""


def url_place(url: str) -> str:
    """host:port/database of a URL, never its password (for messages and /status)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path or '/'}"


def _pg(sql: str) -> str:
    """SQLite's `?` placeholders as PostgreSQL's `$1, $2, ...` (the filters are shared)."""
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


class SharedStore:
    def __init__(self, url: str) -> None:
        self._url = url
        self.where = url_place(url)
        self._pool: asyncpg.Pool | None = None
        self._ready = False
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    async def ready(self) -> asyncpg.Pool:
        """The pool, after the schema was brought up to date once (raises SharedStoreDown)."""
        async with self._lock:
            try:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._url, min_size=0, max_size=3, timeout=CONNECT_TIMEOUT_S,
                        command_timeout=COMMAND_TIMEOUT_S, max_inactive_connection_lifetime=60)
                if not self._ready:
                    async with self._pool.acquire() as conn:
                        await migrate(conn)
                    self._ready = True
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError, SchemaTooNew) as exc:
                raise SharedStoreDown(describe(exc)) from exc
            return self._pool

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        pool = await self.ready()
        try:
            return list(await pool.fetch(sql, *args))
        except (OSError, TimeoutError, asyncpg.PostgresError,
                asyncpg.InterfaceError) as exc:
            raise SharedStoreDown(describe(exc)) from exc

    # -- the cluster's errors (GET /api/monitoring/errors) ---------------------------------
    @staticmethod
    def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        nodes = filters.pop("node", None)
        sql, args = error_where(filters)
        if nodes:
            sql += f" AND node IN ({', '.join('?' for _ in nodes)})"
            args.extend(nodes)
        return sql, args

    async def list_errors(self, limit: int = 100, *, after: tuple[float, str] | None = None,
                          **filters: Any) -> list[dict[str, Any]]:
        """Every node's errors, newest first, with the local store's keyset cursor."""
        where, args = self._where(dict(filters))
        if after is not None:
            where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            args.extend([after[0], after[0], after[1]])
        sql = _pg(f"SELECT * FROM {SCHEMA}.errors WHERE {where} "
                  f"ORDER BY created_at DESC, id DESC LIMIT ?")
        return [_row(r) for r in await self.fetch(sql, *args, limit)]

    async def error_summary(self, **filters: Any) -> dict[str, int]:
        filters["since"] = filters.get("since") or 0
        where, args = self._where(dict(filters))
        rows = await self.fetch(_pg(
            "SELECT COUNT(*), COALESCE(SUM(recovered), 0), COALESCE(SUM(recovery_failed), 0) "
            f"FROM {SCHEMA}.errors WHERE {where}"), *args)
        total, recovered, failed = (int(v) for v in rows[0])
        return {"total": total, "recovered": recovered, "failed": failed,
                "pending": total - recovered - failed}

    async def get_error(self, error_id: str, node: str | None = None) -> dict[str, Any] | None:
        """One error of any node (the newest, should two nodes have drawn the same id)."""
        sql, args = f"SELECT * FROM {SCHEMA}.errors WHERE id = $1", [error_id]
        if node is not None:
            sql += " AND node = $2"
            args.append(node)
        rows = await self.fetch(sql + " ORDER BY created_at DESC LIMIT 1", *args)
        return _row(rows[0]) if rows else None


def _row(record: asyncpg.Record) -> dict[str, Any]:
    d = dict(record)
    for k in ERROR_JSON:
        if isinstance(d.get(k), str):
            d[k] = json.loads(d[k])
    return d


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
