"""The process check on real misbehaving processes: found by name or command line, and held
to limits on memory growth (a leak), open files, threads and CPU."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest
from pydantic import ValidationError

import health_checks
from health_checks.base import CheckKind
from tests.support.checks import make_check
from tests.support.faults import report, time_until
from tests.support.helpers import ROOT, kill_tree, wait_for

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")

HOG = ROOT / "tests" / "support" / "hog.py"


def make(**cfg):
    cls = health_checks.registry.get("process")
    return cls(cls.config_model.model_validate({"type": "process", **cfg}), "svc")


@pytest.fixture
def hog():
    started = []

    def start(mode: str, tag: str) -> subprocess.Popen[bytes]:
        p = subprocess.Popen([sys.executable, str(HOG), mode, "--tag", tag],
                             stdout=subprocess.PIPE)
        started.append(p)
        assert p.stdout is not None and p.stdout.readline().strip() == b"ready"
        return p

    yield start
    for p in started:
        kill_tree(p.pid)
        p.wait()


async def test_memory_leak_is_seen_over_the_window(hog):
    tag = f"leak-{os.getpid()}-{time.time()}"
    fault = time.monotonic()
    hog("leak", tag)
    check = make(cmdline=f"hog.py leak --tag {tag}", leakWindow=1500, leakGrowthMb=20,
                 maxRssMb=4000)
    took, r = await time_until(check, CheckKind.RESOURCE_PRESSURE, interval=0.2, since=fault)
    report("memory leak (steady RSS growth over a 1.5 s window)", took, r)
    assert r.details["leak"] and r.details["resource"] == "memory" and "leak" in r.message
    assert 1.4 < took < 15


async def test_steady_process_is_no_leak_and_stop_and_exit_are_seen(hog):
    tag = f"idle-{os.getpid()}-{time.time()}"
    p = hog("idle", tag)
    check = make(cmdline=f"--tag {tag}$", leakWindow=500, leakGrowthMb=1)
    for _ in range(8):
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.details["pid"] == p.pid, r
        await asyncio.sleep(0.1)
    os.kill(p.pid, signal.SIGSTOP)
    fault = time.monotonic()
    took, r = await time_until(check, CheckKind.STALLED, since=fault)
    report("process SIGSTOPped (polled)", took, r)
    kill_tree(p.pid)
    p.wait()
    fault = time.monotonic()
    took, r = await time_until(check, CheckKind.PROCESS_EXITED, since=fault)
    report("process killed (polled, by cmdline match)", took, r)
    assert "matches" in r.message


async def test_open_files_threads_and_cpu_limits(hog):
    tag = f"{os.getpid()}-{time.time()}"
    files = hog("files", "f" + tag)
    r = await time_until(make(pid=files.pid, maxOpenFiles=200), CheckKind.RESOURCE_PRESSURE)
    assert r[1].details["resource"] == "fds" and "open files" in r[1].message
    report("open files over the limit", r[0], r[1])
    threads = hog("threads", "t" + tag)
    r = await time_until(make(pid=threads.pid, maxThreads=40), CheckKind.RESOURCE_PRESSURE)
    assert r[1].details["resource"] == "threads" and r[1].details["threads"] > 40
    report("threads over the limit", r[0], r[1])
    spin = hog("spin", "s" + tag)
    check = make(pid=spin.pid, maxCpuPercent=10)  # a loaded CI box gives it less than a core
    took, res = await time_until(check, CheckKind.DEGRADED, interval=0.3)
    report("CPU over the limit (busy loop)", took, res)
    assert res.details["cpuPercent"] > 10 and res.details["resource"] == "cpu"


async def test_by_name_and_unknown_targets():
    me = make(processName="no-such-process-xyz")
    r = await me.run()
    assert r.kind is CheckKind.PROCESS_EXITED and "named 'no-such-process-xyz'" in r.message
    r = await make(systemdUnit="soulfra-test-none.service").run()
    assert r.kind is CheckKind.PROCESS_EXITED, "no systemd here, or no such unit"
    with pytest.raises(ValidationError, match="exactly one of"):
        make(pid=1, processName="x")
    with pytest.raises(ValidationError, match="regular expression"):
        make(cmdline="(")


async def test_process_alive_stopped_gone_and_rss(demo, tmp_path):
    _, proc = demo
    pid_file = tmp_path / "x.pid"
    pid_file.write_text(f"{proc.pid}\n")
    assert (await make_check("process", pidFile=str(pid_file)).run()).kind is CheckKind.HEALTHY
    r = await make_check("process", pid=proc.pid, maxRssMb=1).run()
    assert r.kind is CheckKind.RESOURCE_PRESSURE
    os.kill(proc.pid, signal.SIGSTOP)
    wait_for(lambda: __import__("psutil").Process(proc.pid).status() == "stopped",
             what="stopped")
    assert (await make_check("process", pid=proc.pid).run()).kind is CheckKind.STALLED
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (await make_check("process", pid=proc.pid).run()).kind is CheckKind.PROCESS_EXITED
    assert (await make_check("process", pidFile=str(tmp_path / "none.pid")).run()).kind \
        is CheckKind.PROCESS_EXITED
