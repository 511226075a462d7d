"""The shared store against a real PostgreSQL this module starts: its forward migrations, and
the replicator shipping a node's SQLite rows (also across an outage and twice over)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from supervisor.core.events import EventBus
from supervisor.core.incidents import error_row
from supervisor.core.taxonomy import SHARED_STORE_DOWN, TIMEOUT
from supervisor.observability.outages import OwnOutage
from supervisor.store.database import Store
from supervisor.store.shared import capture
from supervisor.store.shared.outage_pages import SharedOutagePages
from supervisor.store.shared.replicator import Replicator
from supervisor.store.shared.schema import MIGRATIONS, SCHEMA, TABLES, SchemaTooNew, migrate
from supervisor.store.shared.shared import SharedStore, SharedStoreDown
from tests.support.pg_server import PostgresServer, pg_bin

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries are missing: scripts/test installs them")
    server = PostgresServer().start()
    yield server
    server.remove()


async def _fresh_database(postgres: PostgresServer, name: str) -> str:
    conn = await asyncpg.connect(postgres.dsn())
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return postgres.dsn().rsplit("/", 1)[0] + "/" + name


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(tmp_path / "node.db")
    await s.open()
    yield s
    await s.close()


class Reports:
    """What the outage stored as the daemon's own errors (the self-watch's report)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.rows: list[dict[str, Any]] = []

    def __call__(self, c: Any, message: str, *, correlation_id: str | None = None,
                 **context: Any) -> dict[str, Any]:
        row = error_row(c, "soulfra-supervisor", message, correlation_id=correlation_id,
                        context=context, source="daemon", env={"host": "test"})
        self.store.submit_error(row)
        self.rows.append(row)
        return row


def _replicator(store: Store, url: str, node: str = "a") -> tuple[Replicator, Reports]:
    reports = Reports(store)
    outage = OwnOutage("shared store", SHARED_STORE_DOWN, reports, EventBus(), store)
    return Replicator(store, SharedStore(url), node, outage), reports


def _error(service: str = "api", message: str = "no answer within 2000 ms") -> dict[str, Any]:
    return error_row(TIMEOUT, service, message, env={"host": "test"})


async def _drain(rep: Replicator) -> None:
    while await rep.ship_once() > 0:
        pass


async def _pg_ids(url: str, table: str = "errors", node: str = "a") -> set[Any]:
    conn = await asyncpg.connect(url)
    try:
        key = next(t.key for t in TABLES if t.name == table)
        rows = await conn.fetch(f"SELECT {key} FROM {SCHEMA}.{table} WHERE node = $1", node)
        return {r[0] for r in rows}
    finally:
        await conn.close()


# -- the schema -------------------------------------------------------------------------------
async def test_migrations_apply_once_even_when_nodes_start_together(
        postgres: PostgresServer) -> None:
    url = await _fresh_database(postgres, "migrate_race")
    conns = [await asyncpg.connect(url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(migrate(c) for c in conns))
        assert versions == [len(MIGRATIONS)] * 3
        applied = await conns[0].fetch(f"SELECT version FROM {SCHEMA}.schema_version")
        assert sorted(r[0] for r in applied) == list(range(1, len(MIGRATIONS) + 1))
        assert await migrate(conns[0]) == len(MIGRATIONS)  # nothing left to do
        await conns[0].execute(f"INSERT INTO {SCHEMA}.schema_version (version) VALUES (999)")
        with pytest.raises(SchemaTooNew, match="newer than this daemon"):
            await migrate(conns[1])
    finally:
        for c in conns:
            await c.close()


async def test_every_shipped_column_exists_on_both_sides(postgres: PostgresServer,
                                                         store: Store) -> None:
    """A column added to SQLite and to schema.TABLES needs a PostgreSQL step too."""
    url = await _fresh_database(postgres, "columns")
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        for t in TABLES:
            local = await store.run(lambda c, t=t: {r[1] for r in c.execute(
                f"PRAGMA table_info({t.name})")})
            assert set(t.names) <= local, t.name
            remote = {r[0] for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = $1 AND table_name = $2", SCHEMA, t.name)}
            assert remote == {"node", *t.names}, t.name
    finally:
        await conn.close()


# -- shipping ---------------------------------------------------------------------------------
async def test_rows_from_before_and_after_land_with_their_node_and_changes(
        postgres: PostgresServer, store: Store) -> None:
    url = await _fresh_database(postgres, "ship")
    before = _error(message="from before shipping began")
    await store.insert_error(before)
    rep, _ = _replicator(store, url)
    await rep.prepare()
    assert rep.pending["errors"] == 1 and rep.pending["error_groups"] == 1  # backfilled
    after = _error(service="web")
    await store.insert_error(after)
    await store.insert_transition(time.time(), "web", "healthy", "failing", "down", None)
    await _drain(rep)
    assert await _pg_ids(url) == {before["id"], after["id"]}
    assert len(await _pg_ids(url, "transitions")) == 1
    assert rep.to_dict()["pendingTotal"] == 0

    # a row changed after it shipped is shipped again, as it is now
    await store.update_error(after["id"], recovered=1, recovery_time_ms=1500)
    await store.flush()
    await _drain(rep)
    shared = SharedStore(url)
    try:
        rows = await shared.list_errors(limit=10, node=["a"])
        got = {r["id"]: r for r in rows}
        assert got[after["id"]]["recovered"] == 1 and got[after["id"]]["node"] == "a"
        assert got[after["id"]]["context"]["environment"] == {"host": "test"}
        assert (await shared.error_summary(node=["a"]))["recovered"] == 1
        assert await shared.list_errors(limit=10, node=["b"]) == []
    finally:
        await shared.close()
        await rep.stop()

    # retention deletes locally, and the deletion ships too
    await store.prune(detail_before=time.time() + 1, summary_before=0)
    rep2, _ = _replicator(store, url)
    await rep2.prepare()
    await _drain(rep2)
    await rep2.stop()
    assert await _pg_ids(url) == set()


async def test_a_batch_shipped_twice_lands_once(postgres: PostgresServer, store: Store) -> None:
    """A crash between PostgreSQL's commit and forgetting the queue entries ships them again."""
    url = await _fresh_database(postgres, "twice")
    rep, _ = _replicator(store, url)
    await rep.prepare()
    rows = [_error(message=f"error {i}") for i in range(20)]
    for r in rows:
        store.submit_error(r)
    await store.flush()
    pool = await rep.shared.ready()
    batch = await store.run(lambda c: capture.read_batch(c, 500))
    async with pool.acquire() as conn:
        await rep._write(conn, batch)  # noqa: SLF001 - the crash: written, not forgotten
    await _drain(rep)
    await rep.stop()
    conn = await asyncpg.connect(url)
    try:
        n = await conn.fetchval(f"SELECT COUNT(*) FROM {SCHEMA}.errors WHERE node = 'a'")
    finally:
        await conn.close()
    assert n == 20


async def test_an_outage_queues_rows_and_they_land_when_it_ends(
        postgres: PostgresServer, store: Store) -> None:
    url = await _fresh_database(postgres, "outage")
    rep, reports = _replicator(store, url)
    await rep.prepare()
    await rep.shared.ready()
    postgres.kill()
    try:
        rows = [_error(message=f"while down {i}") for i in range(30)]
        for r in rows:
            store.submit_error(r)
        await store.flush()
        with pytest.raises(SharedStoreDown):
            await rep.ship_once()
        rep.outage.failed("refused")  # what the loop does with SharedStoreDown
        rep.outage.failed("refused again")
        await rep._count()  # noqa: SLF001
        status = rep.to_dict()
        assert status["pending"]["errors"] >= 30 and not status["connected"]
        assert len(reports.rows) == 1  # one stored error per outage, not per failure
    finally:
        postgres.start()
    await _drain(rep)
    await rep.stop()
    landed = await _pg_ids(url)
    assert {r["id"] for r in rows} <= landed
    outage_error = await store.get_error(reports.rows[0]["id"])
    assert outage_error is not None and outage_error["recovered"] == 1
    assert reports.rows[0]["id"] in landed  # the outage itself is in the shared history


async def test_an_outage_every_node_sees_is_paged_once_and_closed_once(postgres):
    url = await _fresh_database(postgres, "outage_pages")
    stores = [SharedStore(url) for _ in range(3)]
    a, b, c = (SharedOutagePages(s, n) for s, n in zip(stores, "abc", strict=True))
    what = "cluster Redis redis://10.0.0.5:6379/0"
    try:
        began = time.time() - 2
        # three nodes lose Redis at once: one pages, the others name it
        said = await asyncio.gather(a.opening(what, began), b.opening(what, began),
                                    c.opening(what, began))
        assert sorted(said).count("") == 1, said
        pager = "abc"[said.index("")]
        assert all(s in ("", pager) for s in said)
        assert await b.closing(what) is True, "the first to see it end says so"
        assert await a.closing(what) is False and await c.closing(what) is False
        assert await c.opening(what, began) == "b", "seen late: the same outage, no page"
        again = time.time() + 0.5  # a new outage, after that one ended
        await asyncio.sleep(0.6)
        assert await c.opening(what, again) == "", "a new outage pages"
        assert await a.opening(what, again) == "c"
        assert await a.opening("shared store", again) == "", "another thing, another page"
    finally:
        for s in stores:
            await s.close()


async def test_the_shared_store_unreachable_pages_from_this_node():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = SharedStore(f"postgresql://nobody@127.0.0.1:{port}/none")
    pages = SharedOutagePages(store, "a")
    try:
        assert await pages.opening("shared store", time.time()) == "", "a duplicate beats silence"
        assert await pages.closing("shared store") is True
    finally:
        await store.close()


async def test_an_outage_paged_while_postgres_was_away_gets_its_recovered(postgres):
    url = await _fresh_database(postgres, "outage_solo")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    away = SharedStore(f"postgresql://nobody@127.0.0.1:{port}/none")
    pages = SharedOutagePages(away, "a")
    try:
        assert await pages.opening("shared store", time.time()) == ""  # paged, no row
        pages.store = SharedStore(url)  # PostgreSQL answers again
        assert await pages.closing("shared store") is True, "who paged says it is over"
        assert await pages.closing("shared store") is False, "once"
    finally:
        await away.close()
        await pages.store.close()
