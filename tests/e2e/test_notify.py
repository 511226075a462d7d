"""sd_notify against a real datagram socket the test listens on, as systemd would."""

from __future__ import annotations

import json
import secrets
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.helpers import free_port, http, services_file, wait_for
from tests.support.notify_socket import NotifySocket

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


def _disk_services(tmp_path: Path, interval: int = 200) -> dict:
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": interval, "timeoutThreshold": 500}})


def test_daemon_reports_ready_status_watchdog_reload_and_stopping(daemon_factory, tmp_path):
    listener = NotifySocket(f"@soulfra-test-{secrets.token_hex(6)}")
    api_up_at_ready: list[int] = []
    try:
        d = daemon_factory(_disk_services(tmp_path), start=False,
                           env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"})

        def check_api(lines: list[str]) -> None:  # at READY=1 the API must already answer
            if "READY=1" in lines and not api_up_at_ready:
                api_up_at_ready.append(http("GET", d.url + "/api/monitoring/health")[0])

        listener.on_message.append(check_api)
        d.start(wait=False)
        wait_for(lambda: api_up_at_ready, what="READY=1")
        assert api_up_at_ready[0] == 200, "READY=1 came before the API answered"
        wait_for(lambda: any(line.startswith("STATUS=1 service: 1 healthy")
                             for line in listener.lines()), what="STATUS with the summary")
        wait_for(lambda: len(listener.times("WATCHDOG=1")) >= 5, what="watchdog pings")

        assert d.proc is not None
        before = len(listener.messages)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("RELOADING=1" in m for _, m in listener.messages[before:]),
                 what="RELOADING=1")
        reload_msg = next(m for _, m in listener.messages[before:] if "RELOADING=1" in m)
        usec = int(next(x for x in reload_msg if x.startswith("MONOTONIC_USEC="))
                   .split("=")[1])
        assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 30
        reloading_at = listener.times("RELOADING=1")[0]
        wait_for(lambda: any(at > reloading_at for at in listener.times("READY=1")),
                 what="READY=1 after the reload")

        assert d.stop() == 0
        assert "STOPPING=1" in listener.lines()
    finally:
        listener.close()


def test_children_do_not_inherit_the_notify_socket(daemon_factory, tmp_path):
    dump = tmp_path / "child-env.json"
    code = ("import json, os, sys, time; json.dump(dict(os.environ), open(sys.argv[1], 'w'));"
            " time.sleep(60)")
    svc = {"checks": [{"type": "tcp", "port": free_port(), "timeout": 300}],
           "interval": 60000, "autoRestart": False,
           "restart": {"command": [sys.executable, "-c", code, str(dump)],
                       "pidFile": str(tmp_path / "child.pid"), "autoStart": True,
                       "stopOnExit": True, "stopTimeout": 1000}}
    daemon_factory(services_file({"child": svc}),
                   env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens"),
                        "WATCHDOG_USEC": "1000000"})
    env = wait_for(lambda: dump.exists() and json.loads(dump.read_text() or "null"),
                   what="the child's environment")
    assert "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env
    assert "PATH" in env
