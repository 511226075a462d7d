"""Three daemons as the nodes a, b, c of one cluster on one real redis-server: they see each
other, a stopped node is noticed, recorded and alerted once, it rejoins with one "recovered",
a clean stop is no lapse, and a Redis outage leaves local monitoring running."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.alert_receiver import Receiver
from tests.support.alerts import alerts_of, listen, tcp_service
from tests.support.cluster import cluster_node
from tests.support.helpers import ROOT, DaemonProcess, services_file, wait_for
from tests.support.servers import RedisServer

# A 3 s TTL with 1 s rounds: a daemon starved for 2 s would lapse for real. Under
# pytest-xdist these run one after another on one worker (scripts/test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")
TTL_S = 3
DOWN = ("failing", "recovering", "gave_up")


def node_config(port: int) -> dict[str, Any]:
    return services_file({"local-db": tcp_service(port, interval=1000)})


def view(d: DaemonProcess) -> dict[str, Any]:
    status, body = d.get("/api/monitoring/cluster")
    assert status == 200, body
    return dict(body)


def alive(d: DaemonProcess) -> dict[str, bool]:
    return {n["name"]: n["alive"] for n in view(d)["nodes"]}


def node_alerts(receiver: Receiver, node: str, kind: str) -> list[dict[str, Any]]:
    return [a for a in alerts_of(receiver.of("webhook"))
            if a["service"] == f"node:{node}" and a["kind"] == kind]


def lapse_errors(nodes: list[DaemonProcess], node: str) -> list[dict[str, Any]]:
    return [e for d in nodes for e in d.errors() if e["service"] == f"node:{node}"]


@pytest.fixture
def nodes(tmp_path: Path, redis_server: RedisServer, receiver: Receiver, listeners: Any):
    started: list[DaemonProcess] = []

    def make(*names: str, env: dict[str, str] | None = None) -> list[DaemonProcess]:
        for name in names:
            port = listen(listeners, name)
            d = cluster_node(tmp_path, name, node_config(port), redis_server.url, ttl_s=TTL_S,
                             env={"ERROR_WEBHOOK_URL": receiver.url("webhook", name),
                                  **(env or {})})
            started.append(d)
            d.start()
        return started

    yield make
    for d in started:
        if d.proc is not None and d.proc.poll() is None:
            d.proc.send_signal(signal.SIGCONT)  # a test that failed mid-stop
        d.stop()


@pytest.mark.timeout(120)
def test_a_stopped_node_is_reported_once_and_its_return_once(nodes, receiver):
    a, b, c = nodes("a", "b", "c")
    for d in (a, b, c):
        wait_for(lambda d=d: alive(d) == {"a": True, "b": True, "c": True}, timeout=20,
                 what=f"{d.url} sees a, b and c alive")
    seen = view(a)
    assert seen["node"] == "a" and seen["standalone"] is False and seen["ttlSeconds"] == TTL_S
    by_name = {n["name"]: n for n in seen["nodes"]}
    assert by_name["b"]["apiUrl"] == b.url and by_name["b"]["version"]
    wait_for(lambda: {n["name"]: n["services"] for n in view(a)["nodes"]}["b"]
             == {"local-db": "healthy"}, timeout=20, what="b's service healthy in a's view")

    assert b.proc is not None
    b.proc.send_signal(signal.SIGSTOP)  # hung: it renews nothing
    for d in (a, c):
        wait_for(lambda d=d: alive(d)["b"] is False, timeout=20,
                 what=f"{d.url} reports b lapsed")
    b_seen = {n["name"]: n for n in view(c)["nodes"]}["b"]
    assert b_seen["services"] == {"local-db": "unknown"}
    assert b_seen["lastSeen"] is not None
    wait_for(lambda: node_alerts(receiver, "b", "firing"), timeout=20, what="one alert for b")
    wait_for(lambda: lapse_errors([a, c], "b"), timeout=10, what="b's lapse stored")
    time.sleep(TTL_S)  # more rounds of a and c: still one error and one alert
    assert len(node_alerts(receiver, "b", "firing")) == 1
    errors = lapse_errors([a, c], "b")
    assert len(errors) == 1 and errors[0]["severity"] == "critical"
    assert "stopped renewing its cluster membership" in errors[0]["message"]

    b.proc.send_signal(signal.SIGCONT)
    for d in (a, c):
        wait_for(lambda d=d: alive(d)["b"] is True, timeout=20, what=f"{d.url} sees b back")
    wait_for(lambda: node_alerts(receiver, "b", "recovered"), timeout=20,
             what="one recovered for b")
    time.sleep(TTL_S)
    assert len(node_alerts(receiver, "b", "recovered")) == 1
    assert len(node_alerts(receiver, "b", "firing")) == 1

    # b's own view after its pause: it is alive again and sees the others
    wait_for(lambda: alive(b) == {"a": True, "b": True, "c": True}, timeout=20,
             what="b sees everybody again")

    # a clean stop is a leave, not a lapse
    assert c.stop() == 0
    wait_for(lambda: "c" not in alive(a), timeout=20, what="c gone from a's view")
    time.sleep(TTL_S + 1)
    assert node_alerts(receiver, "c", "firing") == []
    assert "c" not in alive(b)

    # the CLI prints the same view as a table
    out = subprocess.run([sys.executable, "-m", "supervisor", "status", "--cluster",
                          "--url", a.url], cwd=ROOT, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "local-db" in out.stdout and "b" in out.stdout
    assert "alive" in out.stdout


@pytest.mark.timeout(120)
def test_redis_down_leaves_local_monitoring_running_and_nodes_rejoin(nodes, redis_server,
                                                                    listeners):
    a, b = nodes("a", "b")
    for d in (a, b):
        wait_for(lambda d=d: alive(d) == {"a": True, "b": True}, timeout=20,
                 what=f"{d.url} sees a and b")
        wait_for(lambda d=d: d.state("local-db") == "healthy", timeout=20,
                 what="local-db healthy")
    redis_server.kill()
    wait_for(lambda: any(e["type"] == "cluster_unreachable" for e in a.errors()), timeout=20,
             what="the outage stored on a")
    assert view(a)["redisReachable"] is False
    # local checks go on: a's database goes away and a notices
    listeners["a"].close()
    wait_for(lambda: a.state("local-db") in DOWN, timeout=20,
             what="a's local service judged (and recovery tried) during the outage")
    assert b.state("local-db") == "healthy"

    redis_server.start()  # the same port, empty: both join again by themselves
    for d in (a, b):
        wait_for(lambda d=d: view(d).get("redisReachable") is True
                 and alive(d) == {"a": True, "b": True}, timeout=30,
                 what=f"{d.url} back in the cluster")
    wait_for(lambda: {n["name"]: n["services"] for n in view(b)["nodes"]}["a"]["local-db"]
             in DOWN, timeout=20, what="b sees a's service down")
    status = json.loads(json.dumps(a.get("/api/monitoring/status")[1]))
    assert status["cluster"]["reachable"] is True
    # the outage was news for people too: one "firing" when it began, one "recovered" after
    def own_alerts() -> list[str]:
        got = a.get("/api/monitoring/alerts?since=1h&service=soulfra-supervisor")[1]["alerts"]
        return sorted(x["kind"] for x in got if "cluster Redis" in x.get("summary", ""))
    wait_for(lambda: own_alerts() == ["firing", "recovered"], timeout=20,
             what="the Redis outage alerted once and its end once")


@pytest.mark.timeout(120)
def test_a_node_whose_scheduler_stalls_lapses_though_its_process_runs(nodes, receiver):
    (a,) = nodes("a")
    (_, b) = nodes("b", env={"SOULFRA_FAULT_INJECTION": "true",
                             "SOULFRA_SCHEDULER_STALL_GRACE_S": "0"})
    wait_for(lambda: alive(a) == {"a": True, "b": True}, timeout=20, what="a sees b")
    wait_for(lambda: b.get("/api/monitoring/status")[1]["checks"]["total"] >= 2, timeout=20,
             what="b's checks running")
    # b's check loops keep dying for 12 s: its API answers, its checks do not run
    assert b.post("/api/monitoring/debug/faults", {"fault": "stall_scheduler",
                                                   "ms": 12000})[0] == 200
    wait_for(lambda: alive(a)["b"] is False, timeout=20, what="a reports b lapsed")
    assert b.get("/api/monitoring/status")[1]["cluster"]["renewing"] is False
    wait_for(lambda: node_alerts(receiver, "b", "firing"), timeout=20, what="b alerted")
    # the fault ends, b's checks run again, b renews and rejoins
    wait_for(lambda: alive(a)["b"] is True, timeout=40, what="b back")
    wait_for(lambda: node_alerts(receiver, "b", "recovered"), timeout=20, what="b recovered")


@pytest.mark.timeout(60)
def test_a_standalone_daemon_says_so(daemon_factory, listeners):
    port = listen(listeners, "solo")
    d = daemon_factory(node_config(port), env={"SOULFRA_NODE_NAME": "solo"})
    body = view(d)
    assert body["standalone"] is True and body["node"] == "solo"
    assert [n["name"] for n in body["nodes"]] == ["solo"] and body["nodes"][0]["alive"]
    assert body["sharedServices"] == []
