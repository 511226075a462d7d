"""SIGTERM while a recovery runs: a graceful, bounded stop, and a restart that resumes."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.support.helpers import DEMO, demo_service_config, free_port, services_file, wait_for


def _slow_starter(tmp_path: Path, port: int, delay: float, grace_ms: int) -> dict:
    """A service that is down and whose restart takes `delay` s to answer."""
    svc = demo_service_config(port, tmp_path / "slow.pid", interval=300, ladder=["restart"])
    svc["restart"]["command"] = [sys.executable, str(DEMO), "--port", str(port),
                                 "--startup-delay", str(delay)]
    svc["restart"]["autoStart"] = False
    return services_file({"slow": svc}, maxAttempts=1, startupGrace=grace_ms)


def _running_recovery(d) -> dict | None:
    runs = d.service("slow")["recentRecoveries"]
    return next((r for r in runs if r["status"] == "running"), None)


def test_sigterm_lets_a_recovery_finish_then_exits_0(daemon_factory, tmp_path):
    port = free_port()
    d = daemon_factory(_slow_starter(tmp_path, port, delay=2.0, grace_ms=15000),
                       env={"SOULFRA_SHUTDOWN_TIMEOUT": "20"})
    run = wait_for(lambda: _running_recovery(d), what="a recovery running")
    assert d.proc is not None
    d.proc.send_signal(signal.SIGTERM)
    assert d.proc.wait(timeout=30) == 0
    log = d.log()
    assert "shutting down" in log and "1 recovery in flight" in log
    assert "interrupting" not in log
    # What the recovery did is stored: it reached its end before the daemon left.
    d2 = daemon_factory(_slow_starter(tmp_path, port, delay=2.0, grace_ms=15000), subdir="")
    status, stored = d2.get(f"/api/monitoring/recoveries/{run['id']}")
    assert status == 200 and stored["status"] == "succeeded", stored


@pytest.mark.timeout(90)
def test_sigterm_interrupts_a_long_recovery_within_the_bound_and_the_restart_resumes(
        daemon_factory, tmp_path):
    port = free_port()
    cfg = _slow_starter(tmp_path, port, delay=60.0, grace_ms=120000)
    d = daemon_factory(cfg, env={"SOULFRA_SHUTDOWN_TIMEOUT": "4"})
    run = wait_for(lambda: _running_recovery(d), what="a recovery running")
    error = wait_for(lambda: next(iter(d.errors()), None), what="the incident's error")
    assert d.proc is not None
    d.proc.send_signal(signal.SIGTERM)
    asked = time.monotonic()
    assert d.proc.wait(timeout=30) == 0
    took = time.monotonic() - asked
    assert took < 15, f"the stop took {took:.1f} s for a bound of 4 s"
    assert "interrupting 1 recovery" in d.log()
    d.stop()

    # A restart on the same data: the interruption is on record, the incident goes on under
    # the same correlation id, and the service is recovered again (now with a quick starter).
    cfg = _slow_starter(tmp_path, port, delay=0.0, grace_ms=15000)
    d2 = daemon_factory(cfg, subdir="")
    status, stored = d2.get(f"/api/monitoring/recoveries/{run['id']}")
    assert status == 200 and stored["status"] == "interrupted"
    assert "shutdown" in stored["message"]
    wait_for(lambda: d2.state("slow") == "healthy", timeout=30, what="recovered after restart")
    errors = d2.errors()
    same = [e for e in errors if e["correlationId"] == error["correlationId"]]
    assert same and same[0]["id"] == error["id"], "the incident resumed, not a new one"
    resolved = wait_for(lambda: next((e for e in d2.errors() if e["id"] == error["id"]
                                      and e["recovered"]), None), what="incident closed")
    assert resolved["recoveryTime"] > 1000
    assert not [e for e in errors if e["correlationId"] != error["correlationId"]
                and e["type"] != "config_invalid"], "no second incident for the same outage"


@pytest.mark.timeout(60)
def test_a_daemon_that_cannot_listen_stops_the_services_it_started(daemon_factory, tmp_path):
    """The API's port taken: the daemon exits with an error, after it had already started its
    services; those marked stopOnExit must not outlive it (one did: an orphan per failed start)."""
    import re

    import psutil

    svc_port, pid_file = free_port(), tmp_path / "demo.pid"
    d = daemon_factory(services_file({"demo": demo_service_config(svc_port, pid_file)}),
                       start=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", d.port))
        taken.listen(1)
        d.start(wait=False)
        assert d.proc is not None
        code = d.proc.wait(timeout=40)
    assert code != 0
    assert "Address already in use" in d.log()
    found = re.search(r"started demo as pid (\d+)", d.log())
    assert found, "the daemon had started the service before it tried to listen"
    started = int(found.group(1))
    gone = not psutil.pid_exists(started) or \
        psutil.Process(started).status() == psutil.STATUS_ZOMBIE
    assert gone, "the service outlived the daemon that started it"
