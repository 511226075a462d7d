"""File-system repairs on real files: disk_cleanup and ensure_path, alone and in the daemon."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

import recovery_strategies
from recovery_strategies.base import RecoveryContext
from supervisor.clients.http import HttpClient
from supervisor.processes.manager import ProcessManager
from tests.helpers import DEMO, free_port, http, services_file, wait_for


def strategy(name: str, **config):
    cls = recovery_strategies.registry.get(name)
    return cls(cls.config_model.model_validate({"strategy": name, **config}), "svc")


def context(tmp_path: Path, dry_run: bool = False) -> RecoveryContext:
    return RecoveryContext(service="svc", correlation_id="inc_test",
                           processes=ProcessManager(tmp_path / "logs", lambda *_: None),
                           http=HttpClient(), dry_run=dry_run)


def write(path: Path, size: int, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


@pytest.fixture
def spool(tmp_path: Path) -> dict[str, Path]:
    """A spool with old and new logs, plus an outside folder reachable only through links."""
    spool, outside = tmp_path / "spool", tmp_path / "outside"
    files = {f"old{i}": write(spool / f"old{i}.log", 1000, 3600 * (10 - i)) for i in range(4)}
    files["new"] = write(spool / "new.log", 1000, 1)
    files["nested"] = write(spool / "deep" / "nested.log", 500, 7200)
    files["keep"] = write(spool / "keep.txt", 5000, 99999)  # does not match *.log
    files["outside"] = write(outside / "precious.log", 1000, 99999)
    files["outside_nested"] = write(outside / "sub" / "precious2.log", 1000, 99999)
    (spool / "link-dir").symlink_to(outside, target_is_directory=True)
    (spool / "link-file.log").symlink_to(outside / "precious.log")
    return files


async def test_disk_cleanup_frees_the_oldest_and_nothing_outside(tmp_path, spool):
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*.log"],
                    olderThan=60_000, maxFiles=3)
    outcome = await step.run(context(tmp_path))
    assert outcome.ok, outcome.message
    # The three oldest matching files (deep/nested.log is 2 h old, between old3 and old2).
    gone = {k for k, p in spool.items() if not p.exists()}
    assert gone == {"old0", "old1", "old2"}, gone
    assert outcome.details["freedBytes"] == 3000 and outcome.details["files"] == 3
    assert "skipped 2 symlink(s)" in outcome.message
    assert str(spool["old0"]) in outcome.output
    for kept in ("outside", "outside_nested", "keep", "new", "old3", "nested"):
        assert spool[kept].exists(), kept
    assert (tmp_path / "spool" / "link-file.log").is_symlink(), "a link is not deleted either"

    # Again, without a count cap but with a byte cap: the next oldest, until 1000 B are freed.
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*.log"],
                    olderThan=60_000, maxBytes=1000)
    outcome = await step.run(context(tmp_path))
    assert not spool["old3"].exists() and spool["nested"].exists()
    assert spool["new"].exists(), "younger than olderThan"
    assert spool["outside"].exists() and spool["outside_nested"].exists()


async def test_disk_cleanup_largest_first_and_dry_run_changes_nothing(tmp_path, spool):
    step = strategy("disk_cleanup", directories=[str(tmp_path / "spool")], patterns=["*"],
                    olderThan=0, order="largest", maxFiles=1)
    dry = await step.run(context(tmp_path, dry_run=True))
    assert dry.ok and dry.message.startswith("would free")
    assert str(spool["keep"]) in dry.output
    assert all(p.exists() for p in spool.values()), "a dry run deletes nothing"
    done = await step.run(context(tmp_path))
    assert done.ok and not spool["keep"].exists()
    assert sum(not p.exists() for p in spool.values()) == 1


async def test_disk_cleanup_with_nothing_to_delete_fails_so_the_ladder_moves_on(tmp_path):
    (tmp_path / "empty").mkdir()
    step = strategy("disk_cleanup", directories=[str(tmp_path / "empty")])
    outcome = await step.run(context(tmp_path))
    assert not outcome.ok and outcome.message.startswith("nothing to clean")


def test_disk_cleanup_config_refuses_relative_and_root_directories():
    cls = recovery_strategies.registry.get("disk_cleanup").config_model
    for bad in (["relative/dir"], ["/"], []):
        with pytest.raises(ValueError):
            cls.model_validate({"strategy": "disk_cleanup", "directories": bad})


async def test_ensure_path_restores_missing_dirs_modes_and_removes_stale_pid_files(tmp_path):
    gone_dir = tmp_path / "run" / "app"
    loose = tmp_path / "data"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    stale, live = tmp_path / "stale.pid", tmp_path / "live.pid"
    stale.write_text(f"{dead.pid}\n")
    live.write_text(f"{os.getpid()}\n")
    step = strategy("ensure_path", paths=[{"path": str(gone_dir), "mode": "0750"},
                                          {"path": str(loose), "mode": "0700"}],
                    staleFiles=[str(stale), str(live)])

    dry = await step.run(context(tmp_path, dry_run=True))
    assert dry.ok and "would create directory" in dry.message and "would chmod" in dry.message
    assert not gone_dir.exists() and stat.S_IMODE(loose.stat().st_mode) == 0o777
    assert stale.exists()

    outcome = await step.run(context(tmp_path))
    assert outcome.ok, outcome.message
    assert gone_dir.is_dir() and stat.S_IMODE(gone_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert not stale.exists(), "the pid in it is gone"
    assert live.exists(), "a pid file of a running process stays"
    again = await step.run(context(tmp_path))
    assert again.ok and again.message.startswith("nothing to repair")


async def test_ensure_path_leaves_a_symlink_alone(tmp_path):
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    os.chmod(target, 0o755)
    (tmp_path / "link").symlink_to(target)
    step = strategy("ensure_path", paths=[{"path": str(tmp_path / "link"), "mode": "0700"}])
    outcome = await step.run(context(tmp_path))
    assert not outcome.ok and "symlink" in outcome.message
    assert stat.S_IMODE(target.stat().st_mode) == 0o755


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
def small_disk(tmp_path: Path):
    """A 4 MiB tmpfs of the test's own, so that 'the disk is full' is real and harmless."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


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
