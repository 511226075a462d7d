"""Three real daemons (nodes a, b, c), one real redis-server, one shared service process: it is
recovered by exactly one node, under a lease with a fencing token, and paged about once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from supervisor.cluster import keys
from tests.support.alerts import alerts_of
from tests.support.cluster import cluster_node
from tests.support.helpers import (
    DEMO,
    DaemonProcess,
    demo_service_config,
    free_port,
    read_pid,
    wait_for,
)
from tests.support.shared_service import SharedService, cluster_config

SETTLE_S = 3.0  # after the end: long enough for a duplicate start or message to show up


def runs(d: DaemonProcess, service: str = "web") -> list[dict[str, Any]]:
    body = d.service(service)
    return list(body["recentRecoveries"]) + list(body["storedRecoveries"])


def holder(redis_url: str, service: str = "web") -> tuple[str, int] | None:
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        value = r.get(keys.lease_key(service))
    finally:
        r.close()
    return keys.parse_lease_value(value) if value else None


@pytest.fixture
def slow_hook(tmp_path: Path) -> Iterator[str]:
    """A repair hook that takes longer than its step's timeout: a slow first step, so that a
    node can be killed or frozen in the middle of a recovery, before it starts anything."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _answers(port), what="slow hook up")
        yield f"http://127.0.0.1:{port}/slow?ms=20000"
    finally:
        proc.kill()
        proc.wait()


def _answers(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def slow_ladder(hook: str) -> list[Any]:
    return [{"strategy": "webhook", "url": hook, "method": "GET", "timeout": 3000,
             "attempts": 1}, "restart"]


def start_nodes(tmp: Path, names: str, config: dict[str, Any], redis_url: str,
                configs: dict[str, dict[str, Any]] | None = None) -> list[DaemonProcess]:
    nodes = [cluster_node(tmp, n, (configs or {}).get(n, config), redis_url) for n in names]
    for d in nodes:
        d.start()
    return nodes


def healthy_everywhere(nodes: list[DaemonProcess], service: str = "web") -> bool:
    return all(d.state(service) == "healthy" for d in nodes)


@pytest.mark.timeout(150)
def test_a_killed_shared_service_is_recovered_once_and_paged_once(tmp_path, redis_server,
                                                                  receiver):
    web = SharedService(tmp_path).start()
    cfg = cluster_config({"web": web.config}, receiver.url("webhook"))
    nodes: list[DaemonProcess] = []
    try:
        nodes = start_nodes(tmp_path, "abc", cfg, redis_server.url)
        wait_for(lambda: healthy_everywhere(nodes), timeout=30, what="web healthy on a, b, c")
        web.kill()
        wait_for(lambda: len(web.starts()) >= 2 and healthy_everywhere(nodes), timeout=45,
                 what="web restarted and healthy on every node")

        def kinds() -> list[str]:
            return [a["kind"] for a in alerts_of(receiver.of("webhook")) if a["service"] == "web"]

        wait_for(lambda: kinds() == ["firing", "recovered"], timeout=30,
                 what="one firing and one recovered")
        time.sleep(SETTLE_S)
        assert kinds() == ["firing", "recovered"], "one message each across three nodes"
        assert len(web.starts()) == 2, "recovered once: one process started"
        succeeded = [d for d in nodes for r in runs(d) if r["status"] == "succeeded"]
        assert len(succeeded) == 1, "exactly one node repaired it"
        assert web.parent_of(web.starts()[-1]) == succeeded[0].proc.pid
    finally:
        for d in nodes:
            d.stop()
        web.stop_all()


@pytest.mark.timeout(150)
def test_the_lease_holder_killed_mid_recovery_another_node_completes_it(
        tmp_path, redis_server, slow_hook):
    web = SharedService(tmp_path).start()
    web.config["ladder"] = slow_ladder(slow_hook)
    cfg = cluster_config({"web": web.config})
    nodes: list[DaemonProcess] = []
    try:
        nodes = start_nodes(tmp_path, "abc", cfg, redis_server.url)
        wait_for(lambda: healthy_everywhere(nodes), timeout=30, what="web healthy on a, b, c")
        web.kill()
        first = wait_for(lambda: holder(redis_server.url), timeout=20, what="a lease holder")
        dead = next(d for d in nodes if d.tmp.name == first[0])
        dead.proc.kill()  # SIGKILL in its slow first step: nothing started yet
        dead.proc.wait()
        alive = [d for d in nodes if d is not dead]
        wait_for(lambda: len(web.starts()) >= 2 and healthy_everywhere(alive), timeout=60,
                 what="another node completed the recovery")
        time.sleep(SETTLE_S)
        assert len(web.starts()) == 2, "one process started, by one node"
        done = [(d, r) for d in alive for r in runs(d) if r["status"] == "succeeded"]
        assert len(done) == 1
        node, run = done[0]
        assert web.parent_of(web.starts()[-1]) == node.proc.pid
        tokens = {a.get("leaseFence") for a in run["attempts"]}
        assert tokens == {first[1] + 1}, "the takeover acted under the next fencing token"
    finally:
        for d in nodes:
            d.stop()
        web.stop_all()


@pytest.mark.timeout(150)
def test_a_frozen_holder_is_stopped_by_its_fencing_token(tmp_path, redis_server, slow_hook):
    web = SharedService(tmp_path).start()
    web.config["ladder"] = slow_ladder(slow_hook)
    cfg = cluster_config({"web": web.config})
    nodes: list[DaemonProcess] = []
    frozen: DaemonProcess | None = None
    try:
        nodes = start_nodes(tmp_path, "ab", cfg, redis_server.url)
        wait_for(lambda: healthy_everywhere(nodes), timeout=30, what="web healthy on a, b")
        web.kill()
        first = wait_for(lambda: holder(redis_server.url), timeout=20, what="a lease holder")
        frozen = next(d for d in nodes if d.tmp.name == first[0])
        other = next(d for d in nodes if d is not frozen)
        time.sleep(1.0)  # inside its slow first step (3 s)
        os.kill(frozen.proc.pid, signal.SIGSTOP)
        wait_for(lambda: len(web.starts()) >= 2 and other.state("web") == "healthy",
                 timeout=60, what="the other node took over after the lease TTL")
        os.kill(frozen.proc.pid, signal.SIGCONT)
        stopped = wait_for(lambda: next((r for r in runs(frozen) if r["status"] ==
                                         "interrupted"), None), timeout=30,
                           what="the old holder's recovery stopped by the fence")
        frozen = None
        assert "lease" in stopped["message"] and "stopped before its next step" in \
            stopped["message"]
        assert [a["strategy"] for a in stopped["attempts"]] == ["webhook"], \
            "its restart step never ran"
        time.sleep(SETTLE_S)
        assert len(web.starts()) == 2, "no second start from the old holder"
        assert web.parent_of(web.starts()[-1]) == other.proc.pid
    finally:
        if frozen is not None and frozen.proc is not None:
            os.kill(frozen.proc.pid, signal.SIGCONT)
        for d in nodes:
            d.stop()
        web.stop_all()


@pytest.mark.timeout(150)
def test_redis_down_local_repairs_go_on_shared_ones_wait_then_resume(tmp_path, redis_server):
    web = SharedService(tmp_path).start()
    solo_pid = tmp_path / "solo.pid"
    solo = demo_service_config(free_port(), solo_pid, interval=500, errorThreshold=2)
    configs = {"a": cluster_config({"web": web.config, "solo": solo}),
               "b": cluster_config({"web": web.config})}
    nodes: list[DaemonProcess] = []
    try:
        nodes = start_nodes(tmp_path, "ab", configs["b"], redis_server.url, configs)
        a = nodes[0]
        wait_for(lambda: healthy_everywhere(nodes) and a.state("solo") == "healthy",
                 timeout=30, what="web healthy on a, b; solo on a")
        redis_server.kill()
        old_solo = read_pid(solo_pid)
        web.kill()
        os.kill(old_solo, signal.SIGKILL)
        wait_for(lambda: solo_pid.exists() and read_pid(solo_pid) != old_solo
                 and a.state("solo") == "healthy", timeout=30,
                 what="the local service repaired while Redis is down")
        for d in nodes:
            wait_for(lambda d=d: any(r["status"] == "skipped" and
                                     r["message"].startswith("waiting for Redis")
                                     for r in runs(d)),
                     timeout=20, what=f"{d.tmp.name}: the shared service waits for Redis")
        time.sleep(SETTLE_S)  # several rounds of asking for the lease
        leases = a.get("/api/monitoring/status")[1]["leases"]
        assert leases["redis"] == "unreachable" and "web" in leases["waiting"]
        assert len(web.starts()) == 1, "not recovered without the lease"
        assert all(d.state("web") == "failing" for d in nodes)

        redis_server.start()
        wait_for(lambda: len(web.starts()) >= 2 and healthy_everywhere(nodes), timeout=45,
                 what="the shared service recovered once Redis is back")
        time.sleep(SETTLE_S)
        assert len(web.starts()) == 2, "recovered once"
        assert a.get("/api/monitoring/status")[1]["leases"]["redis"] == "ok"
    finally:
        for d in nodes:
            d.stop()
        web.stop_all()


@pytest.mark.timeout(150)
def test_one_node_gives_up_on_a_shared_service_and_the_others_do_not_start_over(
        tmp_path, redis_server, receiver):
    """Without a cluster-wide mark, each node took the lease after the previous one gave up and
    ran a ladder of its own: two nodes, two ladders, two "gave up" pages."""
    web = SharedService(tmp_path).start()
    # a repair that cannot work (nothing listens there), and no restart to fall back on
    web.config["ladder"] = [{"strategy": "webhook", "url": f"http://127.0.0.1:{free_port()}/",
                             "attempts": 2}]
    cfg = cluster_config({"web": web.config}, receiver.url("webhook"))
    nodes: list[DaemonProcess] = []
    try:
        nodes = start_nodes(tmp_path, "ab", cfg, redis_server.url)
        wait_for(lambda: healthy_everywhere(nodes), timeout=30, what="web healthy on a and b")
        web.kill()
        wait_for(lambda: [d for d in nodes if d.state("web") == "gave_up"], timeout=45,
                 what="one node gave up on web")
        time.sleep(SETTLE_S)  # the other node's wait for the lease ends in this time
        [quitter] = [d for d in nodes if d.state("web") == "gave_up"]
        [other] = [d for d in nodes if d is not quitter]
        assert other.state("web") == "failing", "the other node does not give up on its own"
        ladders = [r for d in nodes for r in runs(d) if r["status"] == "failed"]
        assert len(ladders) == 1, "one ladder across the cluster"
        skipped = [r["message"] for r in runs(other) if r["status"] == "skipped"]
        quitter_name = "a" if quitter is nodes[0] else "b"
        assert any(m.startswith(f"node {quitter_name} gave up on it at ") for m in skipped), \
            skipped
        pages = [a["kind"] for a in alerts_of(receiver.of("webhook"))
                 if a["service"] == "web" and a["kind"] == "gave_up"]
        assert pages == ["gave_up"], "one gave-up page for the cluster"
        [shared] = other.get("/api/monitoring/cluster")[1]["sharedServices"]
        assert shared["gaveUp"]["node"] == quitter_name

        web.start()  # a human brings it back: healthy again, any node may recover it again
        wait_for(lambda: healthy_everywhere(nodes), timeout=30, what="web healthy again")
        wait_for(lambda: other.get("/api/monitoring/cluster")[1]["sharedServices"][0]
                 ["gaveUp"] is None, timeout=10, what="the gave-up mark cleared")
    finally:
        for d in nodes:
            d.stop()
        web.stop_all()
