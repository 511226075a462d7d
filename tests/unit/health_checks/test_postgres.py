"""The postgres check against a PostgreSQL server this test starts on a free port."""

from __future__ import annotations

import os
import signal
import time

import pytest

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report, time_until
from tests.support.pg_server import PostgresServer, pg_bin


@pytest.fixture(scope="module")
def postgres():
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries are missing: scripts/test installs them")
    server = PostgresServer().start()
    yield server
    server.remove()


def make(**cfg):
    cls = health_checks.registry.get("postgres")
    return cls(cls.config_model.model_validate({"type": "postgres", **cfg}), "db")


@pytest.mark.timeout(90)
async def test_postgres_killed_stopped_bad_password_and_back(postgres):
    check = make(dsn=postgres.dsn(), timeout=1000,
                 query="SELECT count(*) FROM pg_stat_activity")
    r = await check.run()
    assert r.kind is CheckKind.HEALTHY and r.latency_ms > 0, r

    r = await make(dsn=postgres.dsn("wrong-password"), timeout=2000).run()
    assert r.kind is CheckKind.UNHEALTHY and "password" in r.message.lower(), r
    assert "wrong-password" not in r.message and "s3cret" not in r.message

    os.kill(postgres.pid, signal.SIGSTOP)
    try:
        fault = time.monotonic()
        took, r = await time_until(check, CheckKind.STALLED, since=fault)
        report("postgres SIGSTOP (hang)", took, r)
        assert 0.9 < took < 4
    finally:
        os.kill(postgres.pid, signal.SIGCONT)
    assert (await time_until(check, CheckKind.HEALTHY))[1].ok

    postgres.kill()  # SIGKILL, then waits for its children: the clock starts when all are gone
    fault = time.monotonic()
    took, r = await time_until(check, CheckKind.REFUSED, since=fault)
    report("postgres killed", took, r)
    assert "refused" in r.message.lower()
    postgres.start()
    took, r = await time_until(check, CheckKind.HEALTHY)
    report("postgres back", took, r)
