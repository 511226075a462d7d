"""The durable store: one SQLite file in WAL mode, used from one thread off the event loop.

The schema is versioned with `PRAGMA user_version`; MIGRATIONS only ever grows, and a
daemon opening an older file applies the missing steps in order.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

MIGRATIONS: list[str] = [
    # 1: errors, recoveries, state transitions
    """
    CREATE TABLE errors (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        level TEXT NOT NULL,
        severity TEXT NOT NULL,
        service TEXT,
        check_name TEXT,
        message TEXT NOT NULL,
        recovered INTEGER NOT NULL DEFAULT 0,
        recovery_failed INTEGER NOT NULL DEFAULT 0,
        recovery_time_ms INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        correlation_id TEXT,
        context TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX errors_created ON errors(created_at);
    CREATE INDEX errors_service ON errors(service, created_at);
    CREATE INDEX errors_correlation ON errors(correlation_id);
    CREATE TABLE recoveries (
        id TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        action TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        force INTEGER NOT NULL DEFAULT 0,
        dry_run INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        finished_at REAL,
        duration_ms INTEGER,
        correlation_id TEXT,
        message TEXT NOT NULL DEFAULT '',
        attempts TEXT NOT NULL DEFAULT '[]',
        plan TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX recoveries_service ON recoveries(service, created_at);
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        service TEXT NOT NULL,
        previous TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        correlation_id TEXT
    );
    CREATE INDEX transitions_service ON transitions(service, at);
    CREATE INDEX transitions_at ON transitions(at);
    """,
]

ERROR_JSON = ("context",)
RECOVERY_JSON = ("attempts", "plan")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._conn: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise RuntimeError(f"{self.path} has schema {version}, newer than this daemon "
                               f"({len(MIGRATIONS)}); upgrade soulfra-supervisor")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
        self._conn = conn

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    @property
    def conn(self) -> sqlite3.Connection:
        assert self._conn is not None, "store is not open"
        return self._conn

    def _insert(self, table: str, row: dict[str, Any], json_cols: Sequence[str]) -> None:
        row = {k: json.dumps(v) if k in json_cols else v for k, v in row.items()}
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(row.values()))

    def _update(self, table: str, key: str, fields: dict[str, Any],
                json_cols: Sequence[str]) -> None:
        if not fields:
            return
        fields = {k: json.dumps(v) if k in json_cols else v for k, v in fields.items()}
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", [*fields.values(), key])

    @staticmethod
    def _row(row: sqlite3.Row | None, json_cols: Sequence[str]) -> dict[str, Any] | None:
        if row is None:
            return None
        d = dict(row)
        for k in json_cols:
            if k in d and isinstance(d[k], str):
                d[k] = json.loads(d[k])
        return d

    # -- errors -----------------------------------------------------------------------------
    async def insert_error(self, row: dict[str, Any]) -> None:
        await self._run(self._insert, "errors", row, ERROR_JSON)

    async def update_error(self, error_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        await self._run(self._update, "errors", error_id, fields, ERROR_JSON)

    async def get_error(self, error_id: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM errors WHERE id = ?", (error_id,)).fetchone()
            return self._row(row, ERROR_JSON)
        return await self._run(q)

    async def errors_for_incident(self, correlation_id: str) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            rows = self.conn.execute("SELECT * FROM errors WHERE correlation_id = ? "
                                     "ORDER BY created_at", (correlation_id,)).fetchall()
            return [self._row(r, ERROR_JSON) or {} for r in rows]
        return await self._run(q)

    async def list_errors(self, since: float | None = None, service: str | None = None,
                          limit: int = 100) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            sql, args = "SELECT * FROM errors WHERE 1=1", []
            if since is not None:
                sql += " AND created_at >= ?"
                args.append(since)
            if service is not None:
                sql += " AND service = ?"
                args.append(service)
            sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
            args.append(limit)
            return [self._row(r, ERROR_JSON) or {} for r in self.conn.execute(sql, args)]
        return await self._run(q)

    async def error_summary(self, since: float | None = None) -> dict[str, int]:
        def q() -> dict[str, int]:
            row = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(recovered), 0), COALESCE(SUM(recovery_failed), 0)"
                " FROM errors WHERE created_at >= ?", (since or 0,)).fetchone()
            total, recovered, failed = row[0], row[1], row[2]
            return {"total": total, "recovered": recovered, "failed": failed,
                    "pending": total - recovered - failed}
        return await self._run(q)

    async def count_errors(self, since: float) -> int:
        def q() -> int:
            return int(self.conn.execute("SELECT COUNT(*) FROM errors WHERE created_at >= ?",
                                         (since,)).fetchone()[0])
        return await self._run(q)

    # -- recoveries -------------------------------------------------------------------------
    async def insert_recovery(self, row: dict[str, Any]) -> None:
        await self._run(self._insert, "recoveries", row, RECOVERY_JSON)

    async def update_recovery(self, recovery_id: str, **fields: Any) -> None:
        await self._run(self._update, "recoveries", recovery_id, fields, RECOVERY_JSON)

    async def get_recovery(self, recovery_id: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM recoveries WHERE id = ?",
                                    (recovery_id,)).fetchone()
            return self._row(row, RECOVERY_JSON)
        return await self._run(q)

    async def count_recoveries(self, since: float, status: str,
                               requested_by: str | None = None) -> int:
        def q() -> int:
            sql = "SELECT COUNT(*) FROM recoveries WHERE created_at >= ? AND status = ?"
            args: list[Any] = [since, status]
            if requested_by is not None:
                sql += " AND requested_by = ?"
                args.append(requested_by)
            return int(self.conn.execute(sql, args).fetchone()[0])
        return await self._run(q)

    # -- transitions ------------------------------------------------------------------------
    async def insert_transition(self, at: float, service: str, previous: str, state: str,
                                reason: str, correlation_id: str | None) -> None:
        row = {"at": at, "service": service, "previous": previous, "state": state,
               "reason": reason, "correlation_id": correlation_id}
        await self._run(self._insert, "transitions", row, ())

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
        return await self._run(q)
