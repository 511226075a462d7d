"""The shared store with real daemons and a real PostgreSQL (and Redis) started here: any
node's /errors answers for the cluster, and a PostgreSQL outage loses no row, also across a
restart of the daemon, and is itself a stored, alerted error."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.alerts import alerts_of
from tests.support.cluster import cluster_node
from tests.support.helpers import DaemonProcess, services_file, wait_for
from tests.support.pg_server import PostgresServer, pg_bin
from tests.support.servers import RedisServer

CONFIG = services_file({"sync": {}, "auth": {}})
SETTLE_S = 3.0  # long enough for a second page to show up


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


@pytest.mark.timeout(150)
def test_a_redis_outage_both_nodes_see_is_paged_once_and_its_end_once(
        tmp_path: Path, postgres: PostgresServer, redis_server: RedisServer,
        receiver: Any) -> None:
    """Redis cannot arbitrate its own outage: the nodes agree in the shared store. Before,
    every node that lost Redis paged about it (two nodes, two "firing", two "recovered")."""
    cfg = services_file({"sync": {}})
    cfg["errorMonitoring"]["alerts"] = {"groupWindowMs": 0, "channels": [
        {"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    nodes = [cluster_node(tmp_path, n, cfg, redis_server.url, store_url=postgres.dsn())
             for n in "ab"]

    def pages(kind: str) -> list[dict[str, Any]]:
        return [x for x in alerts_of(receiver.of("webhook"))
                if x["kind"] == kind and "cluster Redis" in x.get("summary", "")]

    try:
        for d in nodes:
            d.start()
        for d in nodes:
            wait_for(lambda d=d: d.get("/api/monitoring/status")[1]["sharedStore"]
                     ["lastShippedAt"], timeout=30, what=f"{d.url} ships to the shared store")
        redis_server.kill()
        for d in nodes:  # each node stores the outage as its own error
            wait_for(lambda d=d: any(e["type"] == "cluster_unreachable" for e in d.errors()),
                     timeout=30, what=f"the outage stored on {d.url}")
        wait_for(lambda: pages("firing"), timeout=20, what="a page about the outage")
        time.sleep(SETTLE_S)
        assert len(pages("firing")) == 1, pages("firing")

        redis_server.start()
        wait_for(lambda: pages("recovered"), timeout=40, what="the outage's end")
        time.sleep(SETTLE_S)
        assert len(pages("recovered")) == 1, pages("recovered")
    finally:
        for d in nodes:
            d.stop()
