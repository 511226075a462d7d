"""The sqlite check on real database files: glob, corruption, size, a held lock."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report
from tests.support.helpers import kill_tree


def make(type_: str, **cfg):
    cls = health_checks.registry.get(type_)
    return cls(cls.config_model.model_validate({"type": type_, **cfg}), "svc")


def _db(path, rows: int = 2000) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany("INSERT INTO t (v) VALUES (?)", [("x" * 200,) for _ in range(rows)])
    conn.execute("CREATE INDEX tv ON t(v)")
    conn.commit()
    conn.close()


async def test_sqlite_glob_corruption_size_and_lock(tmp_path):
    for user in ("ann", "bob", "cy"):
        (tmp_path / user).mkdir()
        _db(tmp_path / user / "user.db")
    pattern = str(tmp_path / "*" / "user.db")
    check = make("sqlite", path=pattern, quickCheckInterval=0, timeout=800)
    r = await check.run()
    assert r.kind is CheckKind.HEALTHY and r.details["files"] == 3, r
    assert (await make("sqlite", path=str(tmp_path / "*" / "nope.db")).run()).kind \
        is CheckKind.UNHEALTHY
    big = await make("sqlite", path=pattern, maxSizeMb=0.1).run()
    assert big.kind is CheckKind.RESOURCE_PRESSURE and big.details["resource"] == "disk"

    # Corrupt bob's file in the middle (pages of the table and index), as a bad disk would.
    bob = tmp_path / "bob" / "user.db"
    data = bytearray(bob.read_bytes())
    for off in range(8192, min(len(data), 8192 + 4096 * 20), 4096):
        data[off + 100:off + 400] = b"\xde\xad\xbe\xef" * 75
    bob.write_bytes(bytes(data))
    fault = time.monotonic()
    r = await check.run()
    report("sqlite file corrupted (quick_check)", time.monotonic() - fault, r)
    assert r.kind is CheckKind.UNHEALTHY and "bob" in r.message, r
    assert r.details["failing"] == [str(bob)]
    bob.unlink()
    _db(bob)

    # Another process holds an exclusive lock: readers wait, and the check reports a stall.
    locker = subprocess.Popen(  # noqa: ASYNC220 (a peer process the test kills itself)
        [sys.executable, "-c",
         "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('BEGIN EXCLUSIVE'); c.execute('INSERT INTO t (v) VALUES (1)'); "
         "print('locked', flush=True); time.sleep(60)", str(tmp_path / "cy" / "user.db")],
        stdout=subprocess.PIPE)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == b"locked"
        fault = time.monotonic()
        r = await check.run()
        report("sqlite file locked by a writer", time.monotonic() - fault, r)
        assert r.kind is CheckKind.STALLED, r
    finally:
        kill_tree(locker.pid)
        locker.wait()
    r = await check.run()
    assert r.kind is CheckKind.HEALTHY, r
