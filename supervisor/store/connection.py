"""The store's connection: one SQLite file in WAL mode, used from one thread off the event
loop, and the batched writes that the WriteQueue hands it.

Every query of the store runs in that thread: `run(fn)` calls `fn(connection)` there and
`transaction(fn)` does the same inside BEGIN … COMMIT. The table families (errors.py,
recoveries.py, transitions.py, retention.py) and the parts of the daemon that keep tables of
their own (alerts, silences, recovery state) go through these two.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from loguru import logger

from supervisor.store.migrations import migrate
from supervisor.store.write_queue import Op, WriteQueue

T = TypeVar("T")


class StoreConnection:
    def __init__(self, path: Path, max_pending: int = 10_000) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._conn: sqlite3.Connection | None = None
        self.writes = WriteQueue(self._apply_ops, max_pending=max_pending)

    async def open(self) -> None:
        await self._in_thread(self._open)
        self.writes.start()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        migrate(conn, self.path)
        self._conn = conn

    async def close(self) -> None:
        await self.writes.close()
        if self._conn is not None:
            await self._in_thread(self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=True)

    # -- the two ways in --------------------------------------------------------------------
    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in the store's thread (autocommit: each statement on its own)."""
        return await self._in_thread(lambda: fn(self.conn))

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)` in the store's thread, all of it committed or none."""
        def tx() -> T:
            # The connection is in autocommit mode (isolation_level=None), where `with conn`
            # would not begin a transaction: say BEGIN and COMMIT explicitly.
            conn = self.conn
            conn.execute("BEGIN")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result
        return await self._in_thread(tx)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    @property
    def conn(self) -> sqlite3.Connection:
        """For the store's own table modules, inside the store's thread only."""
        assert self._conn is not None, "store is not open"
        return self._conn

    # -- row helpers ------------------------------------------------------------------------
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

    # -- batched writes ---------------------------------------------------------------------
    def _write(self, kind: str, payload: Any) -> None:
        """Write one queued op inside the batch's transaction (the table families do it)."""
        raise ValueError(f"unknown store op {kind!r}")

    def _begin_batch(self) -> None:
        """A batch starts (the errors family resets what it folds)."""

    def _end_batch(self) -> None:
        """A batch ends, still inside its transaction (the errors family writes its folds)."""

    def _retry_alone(self, op: Op, exc: sqlite3.IntegrityError) -> bool:
        """An op that failed alone with an integrity error: True when it was written anyway."""
        return False

    async def _apply_ops(self, ops: list[Op]) -> None:
        await self._in_thread(lambda: self._apply_sync(ops))

    def _apply_sync(self, ops: list[Op]) -> None:
        try:
            self._apply_batch(ops)
        except (sqlite3.IntegrityError, sqlite3.InterfaceError, ValueError, TypeError):
            # One bad row must not block every row behind it forever: apply them one by
            # one and drop (and log) only the ones that cannot be stored.
            for op in ops:
                try:
                    self._apply_batch([op])
                except sqlite3.IntegrityError as exc:
                    if not self._retry_alone(op, exc):
                        logger.error("store dropped a {} it cannot write: {}", op[0], exc)
                except (sqlite3.InterfaceError, ValueError, TypeError) as exc:
                    logger.error("store dropped a {} it cannot write: {}", op[0], exc)

    def _apply_batch(self, ops: list[Op]) -> None:
        """One transaction for the whole batch."""
        conn = self.conn
        self._begin_batch()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for kind, payload in ops:
                self._write(kind, payload)
            self._end_batch()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    async def flush(self, within: float = 10.0) -> None:
        await self.writes.flush(within)

    def write_health(self) -> dict[str, Any]:
        return self.writes.health.to_dict(self.writes.pending)
