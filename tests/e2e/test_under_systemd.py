"""The unit under a real systemd (issue 13, items 12-14): one container boot for the module
(tests/support/nspawn.py), the project installed with scripts/install, then what an operator
does."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.support.nspawn import Container, ensure_root, unavailable

# One container boot for the module: under pytest-xdist its tests stay on one worker.
pytestmark = [pytest.mark.systemd, pytest.mark.xdist_group("nspawn"),
              pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))]

UNIT = "soulfra-supervisor"
CONFIG = "/etc/soulfra-supervisor/services.json"
API = "http://127.0.0.1:3001/api/monitoring"
# A supervised child that reports what it was given: its environment, and whether it could
# write the daemon's configuration (it must not).
CHILD = ("env > /tmp/child-env; (echo '{}' >> " + CONFIG + ") 2> /tmp/child-write; "
         "exec python3 /opt/src/scripts/demo_service.py --port 8787")


def _config(**extra_services: dict) -> str:
    services = {
        "disk": {"checks": [{"type": "disk", "path": "/"}], "interval": 1000},
        "demo": {"port": 8787, "healthCheckPath": "/health", "interval": 1000,
                 "restart": {"command": [CHILD], "shell": True, "autoStart": True,
                             "pidFile": "/var/lib/soulfra-supervisor/demo.pid"}},
        **extra_services}
    return json.dumps({"errorMonitoring": {"services": services}})


@pytest.fixture(scope="module")
def ct(tmp_path_factory) -> Iterator[Container]:
    container = Container(ensure_root(), tmp_path_factory.mktemp("nspawn") / "console.log")
    try:
        container.boot()
        container.install()
        container.write(CONFIG, _config())
        # A short watchdog and the fault route, to see a blocked loop killed in seconds.
        container.write(f"/etc/systemd/system/{UNIT}.service.d/test.conf",
                        "[Service]\nWatchdogSec=4s\nRestartSec=1s\n"
                        "Environment=SOULFRA_FAULT_INJECTION=true\n"
                        "Environment=SOULFRA_API_TOKEN=\n")
        container.run("systemctl", "daemon-reload")
        yield container
    finally:
        container.poweroff()


def _get(ct: Container, path: str) -> dict:
    return json.loads(ct.run("curl", "-sf", "--max-time", "5", API + path).stdout)


def _show(ct: Container, *props: str) -> dict[str, str]:
    out = ct.run("systemctl", "show", "-p", ",".join(props), UNIT).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _wait(what: str, predicate, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (AssertionError, ValueError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.timeout(120)
def test_start_returns_when_ready_and_children_get_nothing_of_the_daemons(ct):
    ct.run("systemctl", "start", UNIT)
    health = _get(ct, "/health")  # answered at once: READY=1 comes after the API is bound
    assert set(health["services"]) == {"disk", "demo"}
    assert "API http://127.0.0.1:3001" in _show(ct, "StatusText")["StatusText"]
    _wait("the demo child started", lambda: ct.run("test", "-s", "/tmp/child-env",
                                                   check=False).returncode == 0)
    env = ct.run("cat", "/tmp/child-env").stdout
    assert "SOULFRA_" not in env and "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env
    assert "Read-only file system" in ct.run("cat", "/tmp/child-write").stdout
    assert json.loads(ct.run("cat", CONFIG).stdout)  # untouched
    # STATUS= follows a state change at once (was: up to 15 s later).
    _wait("demo healthy", lambda: _get(ct, "/health")["services"]["demo"]["status"] == "healthy")
    _wait("STATUS= says so", lambda: "2 healthy" in _show(ct, "StatusText")["StatusText"],
          timeout=3)
    # The two start-up lines are JSON log lines like every other in the journal.
    journal = ct.run("journalctl", "-u", UNIT, "-o", "cat", "--no-pager").stdout
    hello = [json.loads(line) for line in journal.splitlines() if "API listening" in line]
    assert hello and hello[0]["api_url"] == "http://127.0.0.1:3001"


@pytest.mark.timeout(120)
def test_reload_applies_and_rejects(ct):
    ct.write(CONFIG, _config(extra={"checks": [{"type": "memory"}], "interval": 1000}))
    ct.run("systemctl", "reload", UNIT)
    _wait("the reload applied", lambda: _get(ct, "/reload")["last"]["added"] == ["extra"])
    ct.write(CONFIG, '{"errorMonitoring": {"services": {"x": {"interval": true}}}}')
    # systemctl reload says 0 for a rejected file (ExecReload=kill -HUP): documented.
    assert ct.run("systemctl", "reload", UNIT).returncode == 0
    _wait("the rejection recorded", lambda: _get(ct, "/reload")["last"]["ok"] is False)
    assert "interval" in " ".join(_get(ct, "/reload")["last"]["problems"])
    assert _show(ct, "ActiveState")["ActiveState"] == "active"
    journal = ct.run("journalctl", "-u", UNIT, "-o", "cat", "--no-pager").stdout
    assert "rejected" in journal
    ct.write(CONFIG, _config())
    ct.run("systemctl", "reload", UNIT)
    _wait("the good file back", lambda: _get(ct, "/reload")["last"]["removed"] == ["extra"])


@pytest.mark.timeout(120)
def test_restart_adopts_children_and_repeated_restarts_do_not_strand_it(ct):
    child = ct.run("cat", "/var/lib/soulfra-supervisor/demo.pid").stdout.split()[0]
    for _ in range(8):  # StartLimitBurst=5 stranded it at the third round
        ct.run("systemctl", "restart", UNIT)
    state = _show(ct, "ActiveState", "Result")
    assert state["ActiveState"] == "active", state
    assert ct.run("cat", "/var/lib/soulfra-supervisor/demo.pid").stdout.split()[0] == child
    assert ct.run("kill", "-0", child, check=False).returncode == 0, "the child was adopted"
    _wait("demo healthy after the restarts",
          lambda: _get(ct, "/health")["services"]["demo"]["status"] == "healthy")


@pytest.mark.timeout(120)
def test_the_watchdog_kills_a_blocked_loop_and_the_stack_is_in_the_journal(ct):
    before = _show(ct, "MainPID")["MainPID"]
    since = ct.run("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    # The answer never comes: the loop blocks for 30 s, the watchdog (4 s) kills it first.
    ct.run("curl", "-s", "--max-time", "1", "-X", "POST", "-H", "Content-Type: application/json",
           "-d", '{"fault": "block_loop", "ms": 30000}', API + "/debug/faults", check=False)
    _wait("a new daemon after the watchdog kill",
          lambda: _show(ct, "MainPID")["MainPID"] not in ("0", before)
          and _show(ct, "ActiveState")["ActiveState"] == "active", timeout=40)
    journal = ct.run("journalctl", "-u", UNIT, "--since", since, "-o", "cat",
                     "--no-pager").stdout
    assert "Watchdog timeout" in journal or "watchdog" in journal.lower(), journal[-3000:]
    assert "Fatal Python error: Aborted" in journal, journal[-3000:]
    assert "_blocking_work" in journal, journal[-3000:]  # where the loop was stuck
