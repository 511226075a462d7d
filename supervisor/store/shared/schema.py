"""What the shared store holds, and its schema as the steps that made it.

Every shipped table is the node's SQLite table with a `node` column in front and the primary
key (node, local key): a node's rows never collide with another's, and shipping a row twice
writes it once. The tables live in their own PostgreSQL schema, `soulfra`, so that the
platform's master database can host them beside its own tables.

MIGRATIONS only ever grows, like store/migrations.py: append a step, never edit one that
shipped. `soulfra.schema_version` remembers the steps applied; several nodes starting at once
take turns under an advisory lock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

SCHEMA = "soulfra"
# pg_advisory_xact_lock key: one node at a time migrates (any fixed 64-bit number)
MIGRATE_LOCK = 0x50_75_1F_4A_00_00_00_01


@dataclass(frozen=True)
class Table:
    """A table shipped from SQLite: its name, key column and (column, PostgreSQL type)s."""
    name: str
    key: str
    columns: tuple[tuple[str, str], ...]

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    @property
    def integer_key(self) -> bool:
        return dict(self.columns)[self.key] == "bigint"

    def upsert_sql(self) -> str:
        cols = ["node", *self.names]
        marks = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.names if c != self.key)
        return (f"INSERT INTO {SCHEMA}.{self.name} ({', '.join(cols)}) VALUES ({marks}) "
                f"ON CONFLICT (node, {self.key}) DO UPDATE SET {sets}")

    def delete_sql(self) -> str:
        kind = "bigint" if self.integer_key else "text"
        return (f"DELETE FROM {SCHEMA}.{self.name} WHERE node = $1 "
                f"AND {self.key} = ANY($2::{kind}[])")

    def values(self, node: str, row: dict[str, Any]) -> tuple[Any, ...]:
        """A SQLite row as the arguments of upsert_sql (SQLite's loose types made exact)."""
        return (node, *(_coerce(kind, row.get(col)) for col, kind in self.columns))


def _coerce(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bigint":
        return int(round(value)) if isinstance(value, float) else int(value)
    if kind == "double precision":
        return float(value)
    if kind == "jsonb":
        return value if isinstance(value, str) else json.dumps(value)
    return str(value)


T, F, N, J = "text", "double precision", "bigint", "jsonb"
TABLES: tuple[Table, ...] = (
    Table("errors", "id", (
        ("id", T), ("created_at", F), ("updated_at", F), ("type", T), ("category", T),
        ("level", T), ("severity", T), ("service", T), ("check_name", T), ("message", T),
        ("recovered", N), ("recovery_failed", N), ("recovery_time_ms", N), ("status", T),
        ("correlation_id", T), ("context", J), ("fingerprint", T), ("source", T),
        ("release", T))),
    Table("error_groups", "fingerprint", (
        ("fingerprint", T), ("service", T), ("category", T), ("type", T), ("level", T),
        ("severity", T), ("message", T), ("count", N), ("first_seen", F), ("last_seen", F),
        ("last_error_id", T), ("status", T), ("status_note", T), ("status_at", F),
        ("regressed", N), ("regressed_at", F), ("regressions", N))),
    Table("recoveries", "id", (
        ("id", T), ("service", T), ("action", T), ("requested_by", T), ("force", N),
        ("dry_run", N), ("status", T), ("created_at", F), ("finished_at", F),
        ("duration_ms", N), ("correlation_id", T), ("message", T), ("attempts", J),
        ("plan", J), ("detected_at", F))),
    Table("transitions", "id", (
        ("id", N), ("at", F), ("service", T), ("previous", T), ("state", T), ("reason", T),
        ("correlation_id", T))),
    Table("alerts", "id", (
        ("id", T), ("created_at", F), ("kind", T), ("service", T), ("severity", T),
        ("correlation_id", T), ("status", T), ("reason", T), ("channels", J), ("alert", J))),
    Table("alert_deliveries", "id", (
        ("id", N), ("at", F), ("alert_id", T), ("channel", T), ("outcome", T),
        ("http_status", N), ("detail", T), ("latency_ms", F))),
)
BY_NAME = {t.name: t for t in TABLES}


def _create(t: Table) -> str:
    cols = ",\n    ".join(f"{c} {kind}" for c, kind in t.columns)
    return (f"CREATE TABLE {SCHEMA}.{t.name} (\n    node text NOT NULL,\n    {cols},\n"
            f"    PRIMARY KEY (node, {t.key})\n);\n")


MIGRATIONS: list[str] = [
    # 1: every node's errors, groups, recoveries, transitions, alerts and their deliveries
    "".join(_create(t) for t in TABLES) + f"""
    CREATE INDEX errors_created ON {SCHEMA}.errors (created_at DESC, id DESC);
    CREATE INDEX errors_service ON {SCHEMA}.errors (service, created_at);
    CREATE INDEX errors_node ON {SCHEMA}.errors (node, created_at);
    CREATE INDEX errors_fingerprint ON {SCHEMA}.errors (fingerprint, created_at);
    CREATE INDEX errors_correlation ON {SCHEMA}.errors (correlation_id);
    CREATE INDEX recoveries_created ON {SCHEMA}.recoveries (created_at);
    CREATE INDEX transitions_at ON {SCHEMA}.transitions (at);
    CREATE INDEX alerts_created ON {SCHEMA}.alerts (created_at);
    """,
    # 2: who paged about an outage every node sees (Redis, the shared store): one row each
    f"""
    CREATE TABLE {SCHEMA}.outage_pages (
        what text NOT NULL,
        opened_by text NOT NULL,
        opened_at timestamptz NOT NULL DEFAULT now(),
        closed_by text,
        closed_at timestamptz
    );
    CREATE UNIQUE INDEX outage_pages_open ON {SCHEMA}.outage_pages (what)
        WHERE closed_at IS NULL;
    CREATE INDEX outage_pages_closed ON {SCHEMA}.outage_pages (what, closed_at);
    """,
]


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the shared schema up to the newest step; the version it is at afterwards.
    Refuses a database migrated by a newer daemon."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}; CREATE TABLE IF NOT EXISTS "
                           f"{SCHEMA}.schema_version (version integer NOT NULL, "
                           f"applied_at timestamptz NOT NULL DEFAULT now())")
        version = await conn.fetchval(f"SELECT COALESCE(MAX(version), 0) "
                                      f"FROM {SCHEMA}.schema_version")
        if version > len(MIGRATIONS):
            raise SchemaTooNew(f"the shared store has schema {version}, newer than this "
                               f"daemon ({len(MIGRATIONS)}); upgrade soulfra-supervisor")
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(script)
            await conn.execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES ($1)",
                               number)
        return len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    pass
