"""A small Python service that reports its errors with the real sentry-sdk, for ingest tests.

    sdk_worker.py DSN mix       several kinds of error once, then exit
    sdk_worker.py DSN loop DIR  throw unhandled exceptions in a loop until restarted: the first
                                run leaves DIR/restarted behind, the next run stays quiet
    sdk_worker.py DSN perf      a transaction with a slow sqlite span and an error in its
                                trace, then a cron check-in that succeeds and one that fails
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
import threading
import time
from pathlib import Path

import sentry_sdk
from sentry_sdk.integrations.asyncio import AsyncioIntegration


def connect_to_db() -> None:
    raise ConnectionRefusedError("[Errno 111] Connection refused (postgres at 127.0.0.1:5999)")


def charge(card: str) -> None:
    password = "hunter2-frame-secret"  # noqa: F841 - a frame variable the scrubber must mask
    raise ValueError(f"payment declined for {card}")


async def sync_users() -> None:
    raise sqlite3.IntegrityError("UNIQUE constraint failed: users.email")


async def unawaited_task() -> None:
    asyncio.get_running_loop().create_task(sync_users())  # nobody awaits it
    await asyncio.sleep(0.2)


def mix(dsn: str) -> None:
    sentry_sdk.init(dsn=dsn, release="worker@1.2.3", environment="test",
                    integrations=[AsyncioIntegration()], include_local_variables=True,
                    send_default_pii=True)
    sentry_sdk.set_tag("shard", "eu-1")
    sentry_sdk.add_breadcrumb(category="auth", message="login token=abcdef123456 ok",
                              data={"Authorization": "Bearer s3cr3t-bearer-token"})
    t = threading.Thread(target=connect_to_db)
    t.start()
    t.join()
    asyncio.run(unawaited_task())
    logging.error("nightly export failed: %s rows skipped", 12)
    try:
        charge("4111 1111 1111 1111")
    except ValueError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(10)


def tick(n: int) -> None:
    raise RuntimeError(f"queue consumer crashed on message {n}")


def loop(dsn: str, folder: Path) -> None:
    marker = folder / "restarted"
    first_run = not marker.exists()
    marker.write_text("1")
    sentry_sdk.init(dsn=dsn, release="loop@1")
    n = 0
    while True:
        if first_run:
            t = threading.Thread(target=tick, args=(n,))
            t.start()
            t.join()
            n += 1
        time.sleep(0.2)


# ~0.2 s on an idle machine: well over the daemon's 50 ms slow-query line (400,000 rows took
# 44 ms here, and the test failed whenever the machine was idle).
SLOW_SQL = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) "
            "SELECT count(*) FROM n")


def export_job() -> None:
    with sentry_sdk.start_span(op="db.query", name=SLOW_SQL) as span:
        sqlite3.connect(":memory:").execute(SLOW_SQL).fetchone()
        span.set_data("db.system", "sqlite")
    with sentry_sdk.start_span(op="db.query", name="SELECT 1"):
        sqlite3.connect(":memory:").execute("SELECT 1").fetchone()
    try:
        raise TimeoutError("upstream export API did not answer within 5 s")
    except TimeoutError:
        sentry_sdk.capture_exception()


def perf(dsn: str) -> None:
    from sentry_sdk.crons import monitor

    sentry_sdk.init(dsn=dsn, traces_sample_rate=1.0, release="perf@1")
    with sentry_sdk.start_transaction(op="task", name="nightly-export"):
        export_job()
    with monitor(monitor_slug="nightly-export"):
        time.sleep(0.2)
    sentry_sdk.flush(10)
    time.sleep(1.0)
    try:
        with monitor(monitor_slug="nightly-export"):
            raise RuntimeError("export failed")
    except RuntimeError:
        pass
    sentry_sdk.flush(10)


if __name__ == "__main__":
    if sys.argv[2] == "mix":
        mix(sys.argv[1])
    elif sys.argv[2] == "perf":
        perf(sys.argv[1])
    else:
        loop(sys.argv[1], Path(sys.argv[3]))
