"""The durable store: one SQLite file in WAL mode, used from one thread off the event loop.

The schema is versioned with `PRAGMA user_version`; MIGRATIONS only ever grows, and a
daemon opening an older file applies the missing steps in order. Writes of errors,
transitions and recoveries go through a WriteQueue and are committed in batches; each
batch also folds its errors into their fingerprint groups and hourly summaries.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from loguru import logger

from supervisor.core.redaction import redact_text
from supervisor.core.taxonomy import fingerprint
from supervisor.store.write_queue import Op, WriteQueue

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
    # 2: fingerprints and their groups, hourly summaries (kept longer than the detail rows)
    """
    ALTER TABLE errors ADD COLUMN fingerprint TEXT;
    CREATE INDEX errors_fingerprint ON errors(fingerprint, created_at);
    CREATE INDEX errors_category ON errors(category, created_at);
    CREATE TABLE error_groups (
        fingerprint TEXT PRIMARY KEY,
        service TEXT,
        category TEXT NOT NULL,
        type TEXT NOT NULL,
        level TEXT NOT NULL,
        severity TEXT NOT NULL,
        message TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        last_error_id TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        status_note TEXT,
        status_at REAL,
        regressed INTEGER NOT NULL DEFAULT 0,
        regressed_at REAL,
        regressions INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX error_groups_last_seen ON error_groups(last_seen);
    CREATE TABLE error_hourly (
        hour REAL NOT NULL,
        service TEXT NOT NULL,
        category TEXT NOT NULL,
        severity TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (hour, service, category, severity)
    );
    """,
    # 3: recovery engine state that survives a restart (breaker, backoff level, pause), and
    # when the failure a recovery answers was detected
    """
    CREATE TABLE recovery_state (
        service TEXT PRIMARY KEY,
        level INTEGER NOT NULL DEFAULT 0,
        recoveries TEXT NOT NULL DEFAULT '[]',
        breaker_open INTEGER NOT NULL DEFAULT 0,
        opened_at REAL,
        reason TEXT NOT NULL DEFAULT '',
        healthy_since REAL,
        paused TEXT,
        updated_at REAL NOT NULL
    );
    ALTER TABLE recoveries ADD COLUMN detected_at REAL;
    """,
    # 4: alerts (every alert made, sent or not), the outbox of deliveries not yet accepted,
    # the delivery log, and silences (supervisor/alerts/)
    """
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        kind TEXT NOT NULL,
        service TEXT NOT NULL,
        severity TEXT NOT NULL,
        correlation_id TEXT,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        channels TEXT NOT NULL DEFAULT '[]',
        alert TEXT NOT NULL
    );
    CREATE INDEX alerts_created ON alerts(created_at);
    CREATE INDEX alerts_correlation ON alerts(correlation_id);
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        created_at REAL NOT NULL,
        next_at REAL NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX alert_outbox_channel ON alert_outbox(channel, id);
    CREATE TABLE alert_deliveries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        alert_id TEXT NOT NULL,
        channel TEXT NOT NULL,
        outcome TEXT NOT NULL,
        http_status INTEGER,
        detail TEXT NOT NULL DEFAULT '',
        latency_ms REAL
    );
    CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id);
    CREATE INDEX alert_deliveries_at ON alert_deliveries(at);
    CREATE TABLE silences (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        starts_at REAL NOT NULL,
        ends_at REAL NOT NULL,
        matchers TEXT NOT NULL,
        author TEXT NOT NULL DEFAULT '',
        comment TEXT NOT NULL DEFAULT '',
        deleted_at REAL
    );
    """,
]

ERROR_JSON = ("context",)
RECOVERY_JSON = ("attempts", "plan")
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
    last_error_id = excluded.last_error_id,
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


def hour_of(t: float) -> float:
    return t - (t % HOUR)


class Store:
    def __init__(self, path: Path, max_pending: int = 10_000) -> None:
        self.path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._conn: sqlite3.Connection | None = None
        self.writes = WriteQueue(self._apply_ops, max_pending=max_pending)

    # -- plumbing ---------------------------------------------------------------------------
    async def open(self) -> None:
        await self._run(self._open)
        self.writes.start()

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
        await self.writes.close()
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

    # -- batched writes ---------------------------------------------------------------------
    async def _apply_ops(self, ops: list[Op]) -> None:
        await self._run(self._apply_sync, ops)

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
                    if op[0] == "error" and "errors.id" in str(exc):
                        self._insert_with_fresh_id(op)
                    else:
                        logger.error("store dropped a {} it cannot write: {}", op[0], exc)
                except (sqlite3.InterfaceError, ValueError, TypeError) as exc:
                    logger.error("store dropped a {} it cannot write: {}", op[0], exc)

    def _insert_with_fresh_id(self, op: Op) -> None:
        """Ids are 32 random bits (the SPEC's SE_xxxxxxxx): on a collision draw again."""
        for _ in range(10):
            op[1]["id"] = "SE_" + secrets.token_hex(4)
            try:
                self._apply_batch([op])
                return
            except sqlite3.IntegrityError as exc:
                if "errors.id" not in str(exc):
                    raise
        logger.error("store dropped an error: no free id after 10 draws")

    def _apply_batch(self, ops: list[Op]) -> None:
        """One transaction for the whole batch; errors are folded into groups and hours."""
        conn = self.conn
        groups: dict[str, list[Any]] = {}
        hourly: Counter[tuple[float, str, str, str]] = Counter()
        conn.execute("BEGIN IMMEDIATE")
        try:
            for kind, payload in ops:
                if kind == "error":
                    if not payload.get("fingerprint"):
                        payload["fingerprint"] = fingerprint(payload.get("service"),
                                                             payload["category"],
                                                             payload["message"])
                    self._insert("errors", payload, ERROR_JSON)
                    self._fold(payload, groups, hourly)
                elif kind == "error_update":
                    self._update("errors", payload[0], payload[1], ERROR_JSON)
                elif kind == "transition":
                    self._insert("transitions", payload, ())
                elif kind == "recovery":
                    self._insert("recoveries", payload, RECOVERY_JSON)
                elif kind == "recovery_update":
                    self._update("recoveries", payload[0], payload[1], RECOVERY_JSON)
                else:
                    raise ValueError(f"unknown store op {kind!r}")
            if groups:
                conn.executemany(_GROUP_UPSERT, list(groups.values()))
            if hourly:
                conn.executemany(_HOURLY_UPSERT, [(*k, n) for k, n in hourly.items()])
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _fold(row: dict[str, Any], groups: dict[str, list[Any]],
              hourly: Counter[tuple[float, str, str, str]]) -> None:
        fp, at = row["fingerprint"], row["created_at"]
        if fp is None:
            return
        g = groups.get(fp)
        if g is None:
            groups[fp] = [fp, row.get("service"), row["category"], row["type"], row["level"],
                          row["severity"], row["message"][:500], 1, at, at, row["id"]]
        else:
            g[7] += 1
            g[8] = min(g[8], at)
            if at >= g[9]:
                g[9], g[10], g[5] = at, row["id"], row["severity"]
        hourly[(hour_of(at), row.get("service") or "", row["category"], row["severity"])] += 1

    @staticmethod
    def _prepare_error(row: dict[str, Any]) -> dict[str, Any]:
        # the fingerprint is computed in the store's thread (in _fold), off the event loop
        return row

    async def flush(self, within: float = 10.0) -> None:
        await self.writes.flush(within)

    def write_health(self) -> dict[str, Any]:
        return self.writes.health.to_dict(self.writes.pending)

    # -- errors -----------------------------------------------------------------------------
    async def insert_error(self, row: dict[str, Any]) -> bool:
        """Store an error and wait for its commit (False: queued while the store cannot write)."""
        return await self.writes.put(("error", self._prepare_error(row)))

    def submit_error(self, row: dict[str, Any]) -> bool:
        """Store an error without waiting; False when the queue was full and it was dropped."""
        return self.writes.submit(("error", self._prepare_error(row)))

    async def update_error(self, error_id: str, **fields: Any) -> None:
        fields["updated_at"] = time.time()
        await self.writes.put(("error_update", (error_id, fields)))

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

    @staticmethod
    def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
        """WHERE clause for error filters; list values mean any of them."""
        sql, args = "1=1", []
        for col in ("service", "severity", "category", "status", "level", "type",
                    "fingerprint", "correlation_id"):
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

    async def list_errors(self, since: float | None = None, service: str | None = None,
                          limit: int = 100, *, after: tuple[float, str] | None = None,
                          **filters: Any) -> list[dict[str, Any]]:
        """Newest first. `after` is a keyset cursor (created_at, id) of the last row already
        seen: rows inserted meanwhile never shift a page, so nothing repeats or goes missing."""
        filters.update(since=since, service=service)

        def q() -> list[dict[str, Any]]:
            where, args = self._where(filters)
            if after is not None:
                where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
                args.extend([after[0], after[0], after[1]])
            sql = f"SELECT * FROM errors WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"
            return [self._row(r, ERROR_JSON) or {}
                    for r in self.conn.execute(sql, [*args, limit])]
        return await self._run(q)

    async def error_summary(self, since: float | None = None, **filters: Any) -> dict[str, int]:
        filters["since"] = since or 0

        def q() -> dict[str, int]:
            where, args = self._where(filters)
            row = self.conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(recovered), 0), COALESCE(SUM(recovery_failed), 0)"
                f" FROM errors WHERE {where}", args).fetchone()
            total, recovered, failed = row[0], row[1], row[2]
            return {"total": total, "recovered": recovered, "failed": failed,
                    "pending": total - recovered - failed}
        return await self._run(q)

    async def count_errors(self, since: float) -> int:
        def q() -> int:
            return int(self.conn.execute("SELECT COUNT(*) FROM errors WHERE created_at >= ?",
                                         (since,)).fetchone()[0])
        return await self._run(q)

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
        return await self._run(q)

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
        return await self._run(q)

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
        return await self._run(q)

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
        return await self._run(q)

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
        return await self._run(q)

    async def get_group(self, fp: str) -> dict[str, Any] | None:
        def q() -> dict[str, Any] | None:
            row = self.conn.execute("SELECT * FROM error_groups WHERE fingerprint = ?",
                                    (fp,)).fetchone()
            return dict(row) if row is not None else None
        return await self._run(q)

    # -- recoveries -------------------------------------------------------------------------
    async def insert_recovery(self, row: dict[str, Any]) -> None:
        await self.writes.put(("recovery", row))

    async def update_recovery(self, recovery_id: str, **fields: Any) -> None:
        await self.writes.put(("recovery_update", (recovery_id, fields)))

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
        return await self._run(q)

    # -- transitions ------------------------------------------------------------------------
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
        return await self._run(q)

    async def service_transitions(self, service: str, limit: int = 50) -> list[dict[str, Any]]:
        def q() -> list[dict[str, Any]]:
            rows = self.conn.execute("SELECT * FROM transitions WHERE service = ? "
                                     "ORDER BY id DESC LIMIT ?", (service, limit)).fetchall()
            return [dict(r) for r in rows]
        return await self._run(q)

    # -- retention --------------------------------------------------------------------------
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
                n = await self._run(q)
                removed[table] += n
                if n < chunk:
                    break
        return dict(removed)
