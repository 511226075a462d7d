"""The first checks against real servers and real processes: each names what it found."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import pytest

import health_checks
from health_checks.base import CheckKind
from tests.helpers import DEMO, free_port, http, kill_tree, wait_for


@pytest.fixture
def make(check_env):
    def build(type_: str, **cfg):
        cls = health_checks.registry.get(type_)
        return cls(cls.config_model.model_validate({"type": type_, **cfg}), "svc", check_env)
    return build


@pytest.fixture(params=["lean", "aiohttp"])
def make_http(request, make):
    """Each http test runs on both paths: the lean probe and aiohttp."""
    def build(**cfg):
        check = make("http", client="auto" if request.param == "lean" else "aiohttp", **cfg)
        assert check.client == request.param  # the path under test is the one that runs
        return check
    return build


@pytest.fixture
def demo():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port)])
    wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/health")[0] == 200, what="demo up")
    yield port, proc
    kill_tree(proc.pid)


async def test_http_healthy_degraded_unhealthy_stalled(demo, make_http):
    port, proc = demo
    url = f"http://127.0.0.1:{port}"
    r = await make_http(url=url + "/health", timeout=2000).run()
    assert r.kind is CheckKind.HEALTHY and r.details["status"] == 200 and r.latency_ms > 0
    r = await make_http(url=url + "/slow?ms=300", timeout=2000,
                        degradedAfter=100).run()
    assert r.kind is CheckKind.DEGRADED and r.latency_ms >= 300
    http("POST", url + "/fail")
    r = await make_http(url=url + "/health", timeout=2000).run()
    assert r.kind is CheckKind.UNHEALTHY and "500" in r.message
    http("POST", url + "/heal")
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        r = await make_http(url=url + "/health", timeout=500).run()
        assert r.kind is CheckKind.STALLED and 450 <= r.latency_ms < 1500
    finally:
        os.kill(proc.pid, signal.SIGCONT)


async def test_http_and_tcp_refused_when_nothing_listens(make, make_http):
    port = free_port()
    r = await make_http(url=f"http://127.0.0.1:{port}/health").run()
    assert r.kind is CheckKind.REFUSED and "refused" in r.message
    r = await make("tcp", port=port).run()
    assert r.kind is CheckKind.REFUSED


async def test_tcp_stalls_when_the_backlog_is_full(make):
    # A listener that never accepts, with its backlog filled: new connects hang.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        await asyncio.sleep(0.1)
        r = await make("tcp", port=port, timeout=300).run()
        assert r.kind is CheckKind.STALLED and r.latency_ms < 1000
    finally:
        for s in fillers:
            s.close()
        srv.close()


async def test_disk_over_threshold_is_resource_pressure(tmp_path, make):
    r = await make("disk", path=str(tmp_path), maxUsagePercent=100).run()
    assert r.kind is CheckKind.HEALTHY
    r = await make("disk", path=str(tmp_path), maxUsagePercent=0.001).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE and r.details["resource"] == "disk"


async def test_memory_threshold(make):
    assert (await make("memory", maxUsagePercent=100).run()).kind is CheckKind.HEALTHY
    r = await make("memory", maxUsagePercent=0.001).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE and r.details["resource"] == "memory"


async def test_process_alive_stopped_gone_and_rss(demo, tmp_path, make):
    _, proc = demo
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(f"{proc.pid}\n")
    assert (await make("process", pidFile=str(pid_file)).run()).kind is CheckKind.HEALTHY
    r = await make("process", pid=proc.pid, maxRssMb=1).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE
    os.kill(proc.pid, signal.SIGSTOP)
    wait_for(lambda: __import__("psutil").Process(proc.pid).status() == "stopped",
             what="stopped")
    assert (await make("process", pid=proc.pid).run()).kind is CheckKind.STALLED
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (await make("process", pid=proc.pid).run()).kind is CheckKind.PROCESS_EXITED
    assert (await make("process", pidFile=str(tmp_path / "none.pid")).run()).kind \
        is CheckKind.PROCESS_EXITED
