"""The shared store with real daemons and a real PostgreSQL (and Redis) started here: any
node's /errors answers for the cluster, and a PostgreSQL outage loses no row, also across a
restart of the daemon, and is itself a stored, alerted error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster import cluster_node
from tests.support.helpers import DaemonProcess, services_file, wait_for
from tests.support.pg_server import PostgresServer, pg_bin
from tests.support.servers import RedisServer

CONFIG = services_file({"sync": {}, "auth": {}})


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    if pg_bin() is None:
        pytest.skip("PostgreSQL binaries are missing: scripts/test installs them")
    server = PostgresServer().start()
    yield server
    server.remove()


def report(node: DaemonProcess, service: str, message: str) -> str:
    status, body = node.post("/api/monitoring/errors",
                             {"message": message, "source": {"service": service}})
    assert status == 201, body
    return str(body["errors"][0]["id"] if "errors" in body else body["id"])


def errors(node: DaemonProcess, query: str = "", limit: int = 1000) -> dict[str, Any]:
    status, body = node.get(f"/api/monitoring/errors?since=1h&limit={limit}{query}")
    assert status == 200, body
    return dict(body)


@pytest.mark.timeout(120)
def test_any_node_lists_every_nodes_errors(tmp_path: Path, postgres: PostgresServer,
                                           redis_server: RedisServer) -> None:
    a = cluster_node(tmp_path, "a", CONFIG, redis_server.url, store_url=postgres.dsn())
    b = cluster_node(tmp_path, "b", CONFIG, redis_server.url, store_url=postgres.dsn())
    try:
        a.start()
        b.start()
        on_b = {report(b, "sync", f"duplicate user {i} on b") for i in range(3)}
        on_a = report(a, "auth", "token refresh failed on a")

        body = wait_for(lambda: (e := errors(a, "&node=b")) and
                        on_b <= {x["id"] for x in e["errors"]} and e,
                        what="node b's errors on node a")
        assert body["scope"] == "cluster" and body["node"] == "a"
        assert {x["node"] for x in body["errors"]} == {"b"}
        assert body["summary"]["total"] == len(body["errors"])
        both = wait_for(lambda: (e := errors(b)) and on_a in {x["id"] for x in e["errors"]}
                        and e, what="node a's error on node b")
        assert {x["node"] for x in both["errors"]} >= {"a", "b"}
        # one of b's errors, asked of a, with its full context
        one = next(iter(on_b))
        status, detail = a.get(f"/api/monitoring/errors/{one}?node=b")
        assert status == 200 and detail["node"] == "b" and "context" in detail
        # the other filters and the cursor still apply across nodes
        page = errors(a, "&node=a,b&service=sync", limit=2)
        assert len(page["errors"]) == 2 and page["nextCursor"]
        assert {x["service"] for x in page["errors"]} == {"sync"}
        rest = errors(a, f"&node=a,b&service=sync&cursor={page['nextCursor']}", limit=2)
        assert len(rest["errors"]) == 1 and rest["nextCursor"] is None
        assert {x["id"] for x in page["errors"] + rest["errors"]} == on_b
        assert a.get("/api/monitoring/errors?node=not%20a%20node")[0] == 422
    finally:
        a.stop()
        b.stop()


@pytest.mark.timeout(180)
def test_rows_queue_while_postgres_is_down_and_none_is_lost(
        tmp_path: Path, postgres: PostgresServer) -> None:
    """Only SOULFRA_STORE_URL (no Redis): the shared store works without cluster mode."""
    env = {"SOULFRA_NODE_NAME": "a", "SOULFRA_STORE_URL": postgres.dsn()}
    (tmp_path / "a").mkdir()
    node = DaemonProcess(tmp_path / "a", CONFIG, env=env)
    try:
        node.start()
        first = report(node, "sync", "before the outage")
        wait_for(lambda: first in {x["id"] for x in errors(node)["errors"]}
                 and errors(node)["scope"] == "cluster", what="the first error shipped")

        postgres.kill()
        during = {report(node, "sync", f"during the outage {i}") for i in range(20)}
        status = wait_for(lambda: (s := node.get("/api/monitoring/status")[1]["sharedStore"])
                          and not s["connected"] and s["pending"]["errors"] >= 20 and s,
                          what="rows queued while PostgreSQL is down")
        assert "unreachable" in str(status["outage"]["reason"]) or status["outage"]["reason"]
        local = errors(node)
        assert local["scope"] == "local" and "unreachable" in local["degraded"]
        assert during <= {x["id"] for x in local["errors"]}
        assert {x["node"] for x in local["errors"]} == {"a"}
        outage = [x for x in local["errors"] if x["type"] == "shared_store_unreachable"]
        assert len(outage) == 1 and outage[0]["service"] == "soulfra-supervisor"

        # the daemon restarts while PostgreSQL is still down: the queue is on disk
        assert node.stop() == 0
        node = DaemonProcess(tmp_path / "a", CONFIG, env=env)
        node.start()
        after_restart = report(node, "auth", "after the restart, still down")
        assert node.get("/api/monitoring/status")[1]["sharedStore"]["pending"]["errors"] >= 21

        postgres.start()
        wanted = {first, after_restart, *during}
        shipped = wait_for(lambda: (e := errors(node)) and e["scope"] == "cluster" and
                           wanted <= {x["id"] for x in e["errors"]} and e,
                           timeout=60, what="every queued error in PostgreSQL")
        assert node.get("/api/monitoring/status")[1]["sharedStore"]["connected"]
        ids = [x["id"] for x in shipped["errors"]]
        assert len(ids) == len(set(ids))  # none twice
        wait_for(lambda: node.get("/api/monitoring/status")[1]["sharedStore"]["pendingTotal"]
                 == 0, what="the queue drained")
        # the outage is in the shared history too, and cleared: recovered
        gone = [x for x in errors(node, "&type=shared_store_unreachable")["errors"]]
        assert gone and any(x["recovered"] for x in gone)
        alerts = node.get("/api/monitoring/alerts?since=1h&service=soulfra-supervisor")[1]
        kinds = [x["kind"] for x in alerts["alerts"]]
        assert "firing" in kinds and "recovered" in kinds
    finally:
        node.stop()
