"""The daemon end to end, as a user runs it: real demo service, real signals, real restarts."""

from __future__ import annotations

import os
import signal
import sys
import time

import psutil
import pytest

from tests.support.helpers import (
    DEMO,
    demo_service_config,
    free_port,
    read_pid,
    services_file,
    wait_for,
)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_sigkill_is_noticed_at_once_and_repaired(daemon_factory, tmp_path, loop):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    # A long interval: only the exit watcher can explain a fast repair.
    cfg = services_file({"demo": demo_service_config(port, pid_file, interval=60000)})
    d = daemon_factory(cfg, env={"SOULFRA_EVENT_LOOP": loop})
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    # The child watcher, signals and restarts below run on this loop.
    assert d.get("/api/monitoring/status")[1]["daemon"]["eventLoop"] == loop
    old = read_pid(pid_file)
    os.kill(old, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for(lambda: pid_file.exists() and read_pid(pid_file) != old
             and d.state("demo") == "healthy",
             timeout=40, what="demo restarted")
    # The next poll is 60 s away: being back within half of that proves the exit watcher.
    assert time.monotonic() - killed_at < 30, "exit should be seen without waiting for a poll"
    err = wait_for(lambda: next((e for e in d.errors() if e["recovered"]), None),
                   what="recovered error")
    assert err["type"] == "process_exited"
    assert err["service"] == "demo"
    assert err["id"].startswith("SE_") and len(err["id"]) == 11
    assert isinstance(err["recoveryTime"], int) and 0 < err["recoveryTime"] < 10000
    assert "SIGKILL" in err["message"]


def test_sigstop_is_a_stall_and_the_stopped_process_is_replaced(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    cfg = services_file({"demo": demo_service_config(port, pid_file)})
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    old = read_pid(pid_file)
    os.kill(old, signal.SIGSTOP)
    err = wait_for(lambda: next((e for e in d.errors() if e["recovered"]), None), timeout=30,
                   what="stall recovered")
    assert err["type"] == "service_timeout"
    assert err["category"] == "NETWORK_TIMEOUT"
    assert read_pid(pid_file) != old
    assert _gone(old), "the stopped process must not linger"
    assert d.state("demo") == "healthy"


def test_restart_that_always_fails_gives_up_with_growing_gaps(daemon_factory, tmp_path):
    port = free_port()
    svc = demo_service_config(port, tmp_path / "broken.pid", interval=500, ladder=["restart"])
    svc["restart"]["command"] = [sys.executable, str(DEMO), "--fail-start"]
    svc["restart"]["autoStart"] = False
    cfg = services_file({"broken": svc}, maxAttempts=3, initialDelay=400, backoffMultiplier=2,
                        jitter=0, startupGrace=1000)
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("broken") == "gave_up", timeout=40, what="gave_up")
    view = d.service("broken")
    runs = [r for r in view["recentRecoveries"] if r["requestedBy"] == "auto"]
    assert len(runs) == 1 and runs[0]["status"] == "failed"
    attempts = runs[0]["attempts"]
    assert len(attempts) == 3 and not any(a["ok"] for a in attempts)
    starts = [a["startedAt"] for a in attempts]
    ends = [a["startedAt"] + a["durationMs"] / 1000 for a in attempts]
    gaps = [starts[i + 1] - ends[i] for i in range(2)]
    # Configured waits are 0.4 s then 0.8 s (no jitter); load can only lengthen a gap, so the
    # lower bounds prove the backoff doubled without depending on the machine's speed.
    assert gaps[0] >= 0.38 and gaps[1] >= 0.78, gaps
    critical = [e for e in d.errors() if e["type"] == "recovery_failed"]
    assert critical and critical[0]["severity"] == "critical"
    # Still probed, never restarted again by itself.
    time.sleep(3)
    assert len([r for r in d.service("broken")["recentRecoveries"]
                if r["requestedBy"] == "auto" and r["status"] != "skipped"]) == 1
    assert d.state("broken") == "gave_up"
    # force lifts it: a new recovery runs.
    status, body = d.post("/api/monitoring/recover",
                          {"action": "restart_service", "target": "broken", "force": True})
    assert status == 202 and body["id"].startswith("RC_")
    done = wait_for(lambda: (r := d.get(f"/api/monitoring/recoveries/{body['id']}")[1])
                    ["status"] in ("failed", "succeeded") and r, timeout=30,
                    what="forced recovery finished")
    assert done["requestedBy"] == "api" and done["force"] is True
    assert len(done["attempts"]) == 3


def test_errors_survive_a_daemon_restart(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    cfg = services_file({"demo": demo_service_config(port, pid_file)})
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    os.kill(read_pid(pid_file), signal.SIGKILL)
    first = wait_for(lambda: next((e for e in d.errors() if e["recovered"]), None),
                     what="recovered error")
    assert d.stop() == 0
    d.start()
    assert any(e["id"] == first["id"] and e["recovered"] for e in d.errors())


def test_a_started_service_is_healthy_once_it_answers_not_at_its_next_poll(daemon_factory,
                                                                          tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    svc = demo_service_config(port, pid_file, interval=120000)
    svc["restart"]["command"] += ["--startup-delay", "2"]  # boots past the first poll
    d = daemon_factory(services_file({"demo": svc}))
    # The next poll is two minutes away: only watching the boot explains "healthy" now.
    wait_for(lambda: d.state("demo") == "healthy", timeout=20, what="demo healthy")
    assert not d.errors(), "a service still booting is not a failure"
