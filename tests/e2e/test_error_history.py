"""Durable error history through the API: filters and pagination under concurrent inserts,
fingerprint groups with regression, resolution by PATCH, retention pruning."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor.core.incidents import error_row
from supervisor.core.taxonomy import TIMEOUT, Category, Classification, Level, Severity
from supervisor.store.database import Store
from tests.support.helpers import free_port, http, services_file, wait_for

DAY = 86400.0


def _quiet_service(port: int) -> dict[str, Any]:
    return {"port": port, "checks": [{"type": "tcp"}], "interval": 300, "errorThreshold": 1,
            "ladder": ["retry"]}


async def _prefill(db: Path, rows: list[dict[str, Any]],
                   hourly: list[tuple[float, str, str, str, int]] = ()) -> None:
    store = Store(db)
    await store.open()
    for r in rows:
        store.submit_error(r)
    await store.flush()
    if hourly:
        await store.transaction(lambda conn: conn.executemany(
            "INSERT OR REPLACE INTO error_hourly VALUES (?, ?, ?, ?, ?)", hourly))
    await store.close()


def _row(at: float, service: str = "api", message: str = "no answer within 2000 ms",
         c: Classification = TIMEOUT) -> dict[str, Any]:
    return error_row(c, service, message, at=at, env={"host": "test"})


def test_filters_and_pagination_stay_stable_under_concurrent_inserts(daemon_factory,
                                                                     tmp_path: Path) -> None:
    now = time.time()
    db = tmp_path / "data" / "supervisor.db"
    rows = [_row(now - 3000 + i * 5, service="api" if i % 3 else "db",
                 c=TIMEOUT if i % 2 else Classification("disk_full", Category.DISK_EXHAUSTED,
                                                        Level.SYSTEM, Severity.CRITICAL))
            for i in range(400)]
    asyncio.run(_prefill(db, rows))
    d = daemon_factory(services_file({"quiet": _quiet_service(free_port())}))

    # Another writer inserts new errors (some newer, some in the past) while we page.
    stop = threading.Event()
    inserted: list[str] = []

    def writer() -> None:
        conn = sqlite3.connect(db, timeout=5)
        i = 0
        while not stop.is_set():
            at = time.time() if i % 2 else now - 3000 + (i * 37 % 2000)
            r = _row(at, service="api")
            r["context"] = json.dumps(r["context"])
            r["fingerprint"] = "x"
            conn.execute(f"INSERT INTO errors ({', '.join(r)}) VALUES "
                         f"({', '.join('?' for _ in r)})", list(r.values()))
            conn.commit()
            inserted.append(r["id"])
            i += 1
            time.sleep(0.005)
        conn.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        seen: list[dict[str, Any]] = []
        cursor = ""
        pages = 0
        while True:
            status, body = d.get(f"/api/monitoring/errors?since=2h&limit=25{cursor}")
            assert status == 200, body
            seen.extend(body["errors"])
            pages += 1
            if not body["nextCursor"]:
                break
            cursor = f"&cursor={body['nextCursor']}"
            time.sleep(0.02)
    finally:
        stop.set()
        t.join()
    ids = [e["id"] for e in seen]
    assert len(ids) == len(set(ids)), "a row appeared on two pages"
    assert {r["id"] for r in rows} <= set(ids), "a row that existed all along was skipped"
    stamps = [e["timestamp"] for e in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert pages >= 16 and inserted

    # Filters combine; a bad value names its field.
    status, body = d.get("/api/monitoring/errors?since=2h&service=db&category=DISK_EXHAUSTED"
                         "&severity=critical&limit=1000")
    expected = [r for r in rows if r["service"] == "db" and r["category"] == "DISK_EXHAUSTED"]
    assert status == 200 and len(body["errors"]) == len(expected) > 0
    assert body["summary"]["total"] == len(expected)
    until = now - 1500 + 2.5  # between rows: no row sits on the boundary
    _, body = d.get(f"/api/monitoring/errors?since=2h&until={_iso(until)}&service=api,db"
                    "&limit=1000")
    assert body["errors"] and all(e["timestamp"] < until * 1000 for e in body["errors"])
    status, body = d.get("/api/monitoring/errors?severity=urgent")
    assert status == 422 and body["field"] == "severity"
    status, body = d.get("/api/monitoring/errors?cursor=nonsense!")
    assert status == 422 and body["field"] == "cursor"


def _iso(t: float) -> str:
    from datetime import UTC, datetime
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_repeats_group_by_fingerprint_and_a_resolved_group_regresses(daemon_factory) -> None:
    port = free_port()
    listener: list[socket.socket] = []

    def up() -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        listener.append(s)

    def down() -> None:
        listener.pop().close()

    up()
    d = daemon_factory(services_file({"flappy": _quiet_service(port)}, maxAttempts=1,
                                     initialDelay=100))
    try:
        def group() -> dict[str, Any] | None:
            groups = d.get("/api/monitoring/error-groups?category=SERVICE_UNAVAILABLE")[1]
            return next((g for g in groups["groups"] if g["service"] == "flappy"), None)

        def cycle() -> None:
            wait_for(lambda: d.state("flappy") == "healthy", timeout=20, what="healthy")
            down()
            wait_for(lambda: d.state("flappy") in ("failing", "recovering", "gave_up"),
                     timeout=20, what="failing")
            up()

        cycle()
        cycle()
        g = wait_for(lambda: (g := group()) and g["count"] >= 2 and g, what="two in a group")
        assert g["status"] == "pending" and not g["regressed"]
        errs = [e for e in d.errors() if e["service"] == "flappy"
                and e["category"] == "SERVICE_UNAVAILABLE"]
        assert len(errs) == 2 and len({e["fingerprint"] for e in errs}) == 1
        assert errs[0]["id"] != errs[1]["id"]

        # Resolve the group by PATCHing one of its errors, then break it again.
        status, body = http("PATCH", f"{d.url}/api/monitoring/errors/{errs[0]['id']}",
                            {"status": "resolved", "note": "fixed the port, token=abc123xyz"})
        assert status == 200 and body["status"] == "resolved"
        assert body["context"]["resolution"]["note"] == "fixed the port, token=***"
        assert body["group"]["status"] == "resolved"
        cycle()
        g = wait_for(lambda: (g := group()) and g["count"] >= 3 and g, what="the third")
        assert g["regressed"] and g["regressions"] == 1 and g["status"] == "pending"

        # Groups may be ignored as a whole; bad bodies name the field.
        status, body = http("PATCH", f"{d.url}/api/monitoring/error-groups/{g['fingerprint']}",
                            {"status": "ignored"})
        assert status == 200 and body["status"] == "ignored"
        status, body = http("PATCH", f"{d.url}/api/monitoring/errors/{errs[0]['id']}",
                            {"status": "done"})
        assert status == 422 and body["problems"][0]["field"] == "status"
        status, _ = http("PATCH", f"{d.url}/api/monitoring/errors/SE_nothere",
                         {"status": "ignored"})
        assert status == 404
    finally:
        while listener:
            down()


@pytest.mark.timeout(90)
def test_retention_prunes_details_and_old_summaries_on_schedule(daemon_factory,
                                                                tmp_path: Path) -> None:
    now = time.time()
    old, recent, ancient = now - 10 * DAY, now - 3 * DAY, now - 40 * DAY
    rows = [_row(old, message="old one"), _row(recent, message="recent one")]
    hour = lambda t: t - t % 3600  # noqa: E731
    hourly = [(hour(ancient), "api", "NETWORK_TIMEOUT", "medium", 7),
              (hour(old), "api", "NETWORK_TIMEOUT", "medium", 5)]
    asyncio.run(_prefill(tmp_path / "data" / "supervisor.db", rows, hourly))
    d = daemon_factory(services_file({"quiet": _quiet_service(free_port())}),
                       env={"ERROR_RETENTION_DAYS": "5", "SOULFRA_RETENTION_INTERVAL_S": "1"})
    wait_for(lambda: (d.get("/api/monitoring/status")[1]["store"]["lastPrune"] or {})
             .get("removed", {}).get("errors"), timeout=30, what="a pruning run")
    kept = [e["message"] for e in d.get("/api/monitoring/errors?since=60d")[1]["errors"]
            if e["service"] == "api"]
    assert kept == ["recent one"]
    starts = [b["start"] / 1000 for b in
              d.get("/api/monitoring/trends?bucket=1h&since=60d")[1]["buckets"]]
    assert hour(old) in starts, "hourly summaries outlive the detail rows"
    assert hour(ancient) not in starts, "summaries older than 30 days are pruned"
