"""File-system repairs in the real daemon: a removed data dir restored, a full disk freed oldest
first."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.support.helpers import DEMO, free_port, http, services_file, wait_for
from tests.support.strategies import write


def _pid(path: Path) -> int:
    return int(path.read_text().split()[0])


def test_daemon_restores_a_removed_data_dir_and_its_mode_without_a_restart(daemon_factory,
                                                                          tmp_path):
    """Like PostgreSQL, the service refuses to work when its data directory is missing or has
    the wrong mode; ensure_path repairs both, and the service is never restarted."""
    port, pid_file, data = free_port(), tmp_path / "db.pid", tmp_path / "pgdata"
    data.mkdir(mode=0o700)
    os.chmod(data, 0o700)
    svc = {"port": port, "healthCheckPath": "/health", "interval": 500, "errorThreshold": 2,
           "timeoutThreshold": 1000,
           "restart": {"command": [sys.executable, str(DEMO), "--port", str(port),
                                   "--data-dir", str(data), "--data-mode", "0700"],
                       "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True},
           "ladder": [{"strategy": "ensure_path", "paths": [{"path": str(data),
                                                              "mode": "0700"}]}]}
    d = daemon_factory(services_file({"db": svc}))
    wait_for(lambda: d.state("db") == "healthy", what="db healthy")
    pid = _pid(pid_file)

    data.rmdir()
    run = wait_for(lambda: next((r for r in d.service("db")["recentRecoveries"]
                                 if r["status"] == "succeeded"), None), timeout=30,
                   what="ensure_path recovery")
    assert data.is_dir() and stat.S_IMODE(data.stat().st_mode) == 0o700
    assert "create directory" in run["attempts"][0]["message"]

    os.chmod(data, 0o777)
    wait_for(lambda: len([r for r in d.service("db")["recentRecoveries"]
                          if r["status"] == "succeeded"]) == 2, timeout=30,
             what="second ensure_path recovery")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    wait_for(lambda: d.state("db") == "healthy", what="db healthy again")
    assert _pid(pid_file) == pid, "repaired in place, not restarted"
    assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
    errors = d.errors()
    assert len(errors) == 2 and all(e["recovered"] for e in errors)


@pytest.fixture
def small_disk(mount_tmpfs):
    """A 4 MiB tmpfs of the test's own, so that 'the disk is full' is real and harmless."""
    return mount_tmpfs("disk", "size=4m")


def test_daemon_frees_a_full_disk_oldest_first_and_nothing_outside(daemon_factory, tmp_path,
                                                                   small_disk):
    spool, outside = small_disk / "spool", tmp_path / "outside"
    precious = write(outside / "precious.dat", 1000, 99999)
    keep = write(small_disk / "keep.dat", 200_000, 99999)  # same disk, outside the spool
    (spool).mkdir()
    (spool / "escape").symlink_to(outside, target_is_directory=True)
    svc = {"checks": [{"type": "disk", "path": str(small_disk), "maxUsagePercent": 80}],
           "interval": 500, "errorThreshold": 1,
           "ladder": [{"strategy": "disk_cleanup", "directories": [str(spool)],
                       "patterns": ["*.dat"], "olderThan": 0, "targetUsagePercent": 50}]}
    d = daemon_factory(services_file({"spool": svc}))
    wait_for(lambda: d.state("spool") == "healthy", what="spool healthy")
    chunks = [write(spool / f"chunk{i:02d}.dat", 300_000, 1000 - i) for i in range(12)]
    run = wait_for(lambda: next((r for r in d.service("spool")["recentRecoveries"]
                                 if r["status"] == "succeeded"), None), timeout=30,
                   what="disk_cleanup recovery")
    assert d.state("spool") == "healthy"
    gone = [not c.exists() for c in chunks]
    assert gone[0] and not gone[-1], "the oldest go first, the newest stay"
    assert gone == sorted(gone, reverse=True), "deleted strictly from the oldest"
    assert precious.exists() and keep.exists(), "nothing outside the spool directory"
    assert "freed" in run["attempts"][0]["message"]


@pytest.mark.timeout(60)
def test_a_stale_lock_is_removed_and_the_restart_follows_without_waiting_the_grace(
        daemon_factory, tmp_path):
    """A SIGKILL leaves the service's lock file; a start refuses while it exists. ensure_path
    removes the stale lock, but it starts no process: its verification says so at once
    (instead of waiting the whole startup grace for a process nobody starts) and the
    ladder's restart brings the service back."""
    port, pid_file, lock = free_port(), tmp_path / "svc.pid", tmp_path / "svc.lock"
    svc = {"port": port, "healthCheckPath": "/health", "interval": 500, "errorThreshold": 2,
           "timeoutThreshold": 1000, "startupGrace": 40000,
           "restart": {"command": [sys.executable, str(DEMO), "--port", str(port),
                                   "--lockfile", str(lock)],
                       "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True},
           "ladder": [{"strategy": "ensure_path", "staleFiles": [str(lock)], "attempts": 1},
                      "restart"]}
    d = daemon_factory(services_file({"svc": svc}))
    wait_for(lambda: d.state("svc") == "healthy", what="svc healthy")
    assert lock.exists()
    os.kill(_pid(pid_file), 9)

    run = wait_for(lambda: next((r for r in d.service("svc")["recentRecoveries"]
                                 if r["status"] == "succeeded"), None), timeout=30,
                   what="the recovery to succeed")
    first, last = run["attempts"][0], run["attempts"][-1]
    assert first["strategy"] == "ensure_path" and not first["ok"]
    assert "no process of svc is running" in first["message"]
    assert last["strategy"] == "restart_command" and last["ok"]
    assert http("GET", f"http://127.0.0.1:{port}/health")[0] == 200
