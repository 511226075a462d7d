"""The SQLite side of shipping: which rows changed since they were last shipped.

While the shared store is configured, TEMP triggers on the shipped tables (schema.TABLES) add
`(table, key)` to replication_queue in the same transaction as the change itself, so a row
that was committed is also queued, across crashes and restarts. A row changed again before it
was shipped keeps one entry, moved to the end (a new seq): the queue is bounded by the rows the
tables hold (retention bounds those), and shipping reads each row as it is *now*. A deleted
row (retention) is shipped as a deletion. The triggers are TEMP, made by each daemon that has
SOULFRA_STORE_URL, so a standalone daemon pays nothing for them.

Why a queue of changes and not a high-water mark per table: rows change after their insert
(an error is recovered or resolved, a recovery finishes, a group counts up, an alert is
delivered) and error ids are random, so no "last id shipped" can tell what changed.

Every function here runs in the store's thread (`store.run(fn)`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from supervisor.store.shared.schema import TABLES, Table

BACKFILLED = "backfilled"  # replication_state: the rows from before shipping began are queued


def install(conn: sqlite3.Connection) -> None:
    """The triggers, and (the first time this file ships) every row it already holds."""
    for t in TABLES:
        for event, ref in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            # DELETE + INSERT rather than INSERT OR REPLACE: the statement that fires a
            # trigger imposes its own conflict policy on the trigger's statements.
            conn.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS ship_{t.name}_{event.lower()} "
                f"AFTER {event} ON main.{t.name} BEGIN "
                f"DELETE FROM replication_queue WHERE tbl = '{t.name}' AND key = {ref}.{t.key}; "
                f"INSERT INTO replication_queue (tbl, key) VALUES ('{t.name}', {ref}.{t.key}); "
                f"END")
    if conn.execute("SELECT 1 FROM replication_state WHERE name = ?",
                    (BACKFILLED,)).fetchone() is None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            for t in TABLES:
                conn.execute(f"INSERT OR IGNORE INTO replication_queue (tbl, key) "
                             f"SELECT '{t.name}', {t.key} FROM {t.name} ORDER BY rowid")
            conn.execute("INSERT INTO replication_state (name, value) VALUES (?, '1')",
                         (BACKFILLED,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


class Batch:
    """Queue entries read together: the rows to upsert and the keys to delete, per table."""

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.deleted: dict[str, list[Any]] = {}

    def __len__(self) -> int:
        return len(self.seqs)


def read_batch(conn: sqlite3.Connection, limit: int) -> Batch:
    """The oldest `limit` queue entries and the current rows they name."""
    batch = Batch()
    keys: dict[str, list[Any]] = {}
    for seq, tbl, key in conn.execute("SELECT seq, tbl, key FROM replication_queue "
                                      "ORDER BY seq LIMIT ?", (limit,)):
        batch.seqs.append(seq)
        keys.setdefault(tbl, []).append(key)
    by_name = {t.name: t for t in TABLES}
    for tbl, wanted in keys.items():
        t = by_name.get(tbl)
        if t is None:  # a table a later version ships: not this daemon's to send
            continue
        wanted = [int(k) for k in wanted] if t.integer_key else wanted
        found = _rows(conn, t, wanted)
        batch.rows[tbl] = list(found.values())
        batch.deleted[tbl] = [k for k in wanted if k not in found]
    return batch


def _rows(conn: sqlite3.Connection, t: Table, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    cols = ", ".join(t.names)
    for i in range(0, len(keys), 500):  # under SQLite's bound-parameter limit
        part = keys[i:i + 500]
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(f"SELECT {cols} FROM {t.name} WHERE {t.key} IN ({marks})", part):
            row = dict(zip(t.names, r, strict=True))
            out[row[t.key]] = row
    return out


def shipped(conn: sqlite3.Connection, seqs: Sequence[int]) -> None:
    """Forget the entries that landed. A row changed meanwhile has a new seq and stays."""
    for i in range(0, len(seqs), 500):
        part = list(seqs[i:i + 500])
        conn.execute(f"DELETE FROM replication_queue WHERE seq IN "
                     f"({', '.join('?' for _ in part)})", part)


def pending(conn: sqlite3.Connection) -> dict[str, int]:
    """Entries waiting, per table (every shipped table named, 0 when none wait)."""
    counts = dict.fromkeys((t.name for t in TABLES), 0)
    for tbl, n in conn.execute("SELECT tbl, COUNT(*) FROM replication_queue GROUP BY tbl"):
        counts[tbl] = int(n)
    return counts
