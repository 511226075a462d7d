"""Never wrong after a crash (issue 13, 4-5): the daemon SIGKILLed while a restart it started is
still booting. The next daemon adopts (or starts once) the service's process and leaves it to
boot within its startup grace, instead of starting it twice and killing a healthy instance;
"verified" means a check passed against the new process; the recovery the dead daemon left
`running` is stored as `interrupted`, naming what ended the incident."""

from __future__ import annotations

import re
import signal
import sys
from typing import Any

import psutil
import pytest

from tests.support.helpers import (
    DEMO,
    free_port,
    http,
    kill_tree,
    read_pid,
    services_file,
    wait_for,
)

BOOT_S = 3.0  # the demo service needs this long before it listens


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _svc(port: int, pid_file: Any) -> dict[str, Any]:
    return {"port": port, "healthCheckPath": "/health", "interval": 500,
            "timeoutThreshold": 1000, "errorThreshold": 2, "autoRestart": True,
            "startupGrace": 8000, "ladder": ["restart"],
            "restart": {"command": [sys.executable, str(DEMO), "--port", str(port),
                                    "--startup-delay", str(BOOT_S)],
                        "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True,
                        "stopTimeout": 2000}}


def _starts(log: str) -> list[int]:
    return [int(p) for p in re.findall(r"started svc as pid (\d+)", log)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("service_survives", [True, False], ids=["booting", "gone-too"])
def test_a_crash_mid_recovery_starts_the_service_once(daemon_factory, tmp_path,
                                                      service_survives: bool) -> None:
    port = free_port()
    pid_file = tmp_path / "svc.pid"
    d = daemon_factory(services_file({"svc": _svc(port, pid_file)}, initialDelay=100))
    wait_for(lambda: d.state("svc") == "healthy", timeout=30, what="svc booted and healthy")
    first = read_pid(pid_file)
    assert http("POST", f"http://127.0.0.1:{port}/fail")[0] == 200
    # the restart has started the next process, which is still booting: the daemon dies now
    second = wait_for(lambda: pid_file.exists() and read_pid(pid_file) != first
                      and read_pid(pid_file), timeout=30, interval=0.02,
                      what="the recovery's restart")
    running = [r for r in d.service("svc")["recentRecoveries"] if r["status"] == "running"]
    assert d.proc is not None
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    assert running, "no recovery was running when the daemon died"
    if not service_survives:
        kill_tree(second)
    log_before = len(d.log())
    d.start()
    wait_for(lambda: d.state("svc") == "healthy", timeout=40, what="svc healthy again")
    current = read_pid(pid_file)
    new_log = d.log()[log_before:]
    starts = _starts(new_log)
    if service_survives:
        assert starts == [] and current == second, (starts, current, second)
    else:
        assert len(starts) == 1 and current == starts[0], starts
    # nothing the new daemon started or adopted was killed behind its back
    assert _alive(current)
    def closed() -> dict[str, Any] | None:
        row = d.get(f"/api/monitoring/recoveries/{running[0]['id']}")[1]
        # what ended the incident is named: a recovery of the new daemon, or none needed
        ended = re.search(r"ended by recovery RC_[0-9a-f]+|ended without another recovery",
                          row["message"])
        return row if row["status"] != "running" and ended else None

    old = wait_for(closed, timeout=10, what="the dead daemon's recovery closed and linked")
    assert old["status"] == "interrupted", old
    assert "daemon" in old["message"] and old["finishedAt"] is not None
    for r in d.service("svc")["recentRecoveries"]:
        for attempt in r["attempts"]:
            assert "verified healthy after 0.0 s" not in attempt["message"], attempt
