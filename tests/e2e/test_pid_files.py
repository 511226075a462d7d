"""Pid files (issue 13, 6): the daemon removes the pid files it owns when it stops their
process, and adopts (and so may later kill) only a process whose start time and command line
say it is the service's, never whatever process got the pid next."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.helpers import (
    demo_service_config,
    free_port,
    kill_tree,
    read_pid,
    services_file,
    wait_for,
)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _daemon_with_svc(daemon_factory, tmp_path: Path) -> tuple[Any, int, Path, int]:
    """A daemon that started svc (the demo service); (daemon, port, pid file, svc's pid)."""
    port = free_port()
    pid_file = tmp_path / "svc.pid"
    d = daemon_factory(services_file({"svc": demo_service_config(port, pid_file)}))
    wait_for(lambda: d.state("svc") == "healthy", what="svc started and healthy")
    return d, port, pid_file, read_pid(pid_file)


def _sigkill(d: Any) -> None:
    assert d.proc is not None
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()


@pytest.mark.timeout(60)
def test_the_pid_file_goes_when_the_daemon_stops_the_process(daemon_factory, tmp_path) -> None:
    d, _, pid_file, pid = _daemon_with_svc(daemon_factory, tmp_path)
    status, _ = d.post("/api/monitoring/services/svc/pause", {"stop": True})
    assert status == 200
    wait_for(lambda: not _alive(pid), timeout=10, what="the paused process stopped")
    assert not pid_file.exists()
    assert d.post("/api/monitoring/services/svc/resume")[0] == 200
    pid2 = wait_for(lambda: pid_file.exists() and read_pid(pid_file), what="started again")
    assert pid2 != pid
    assert d.stop() == 0  # stopOnExit: the daemon stops it, and its pid file with it
    assert not _alive(pid2) and not pid_file.exists()


@pytest.mark.timeout(60)
def test_an_unrelated_process_behind_a_pid_file_is_not_adopted(daemon_factory,
                                                               tmp_path) -> None:
    port = free_port()
    pid_file = tmp_path / "svc.pid"
    stranger = subprocess.Popen(["sleep", "300"])  # got the pid the stale pid file names
    try:
        pid_file.write_text(f"{stranger.pid}\n")
        d = daemon_factory(services_file({"svc": demo_service_config(port, pid_file)}))
        wait_for(lambda: d.state("svc") == "healthy", what="the daemon started its own svc")
        own = read_pid(pid_file)
        assert own != stranger.pid
        assert "not adopting pid" in d.log() and "not 'python" in d.log()
        assert d.stop() == 0  # stopOnExit stops the daemon's process, not the stranger
        assert stranger.poll() is None and not _alive(own)
    finally:
        stranger.kill()
        stranger.wait()


def _spawn_with_pid(pid: int, argv: list[str]) -> subprocess.Popen[bytes] | None:
    """Start argv as `pid` (root: the kernel hands out ns_last_pid + 1 next): real pid reuse.
    Other processes fork meanwhile, so it may take a few tries; None if it never works."""
    for _ in range(50):
        try:
            Path("/proc/sys/kernel/ns_last_pid").write_text(str(pid - 1))
        except OSError:
            return None
        proc = subprocess.Popen(argv)
        if proc.pid == pid:
            return proc
        proc.kill()
        proc.wait()
    return None


@pytest.mark.timeout(90)
def test_a_reused_pid_is_not_adopted_even_with_the_same_command(daemon_factory,
                                                                tmp_path) -> None:
    d, port, pid_file, first = _daemon_with_svc(daemon_factory, tmp_path)
    argv = psutil.Process(first).cmdline()
    _sigkill(d)  # the daemon dies, its pid file stays
    kill_tree(first)
    # the pid comes back as a process with the very same command line, started later
    lookalike = _spawn_with_pid(first, argv)
    if lookalike is None:
        pytest.skip("cannot choose the next pid here (needs root and /proc/sys/kernel)")
    try:
        wait_for(lambda: subprocess.run(["ss", "-Hltn", f"sport = :{port}"],
                                        capture_output=True, text=True).stdout.strip(),
                 what="the lookalike listening")
        d.start()
        wait_for(lambda: "not adopting pid" in d.log(), what="the refusal logged")
        assert "another time" in d.log()
        assert d.stop() == 0  # stopOnExit: but this process is not the daemon's to stop
        assert lookalike.poll() is None, "the daemon killed a process it never started"
    finally:
        kill_tree(lookalike.pid)
        lookalike.wait()


@pytest.mark.timeout(60)
def test_a_process_started_by_the_previous_boot_is_adopted(daemon_factory, tmp_path) -> None:
    d, _, pid_file, first = _daemon_with_svc(daemon_factory, tmp_path)
    _sigkill(d)
    d.start()
    wait_for(lambda: d.state("svc") == "healthy", what="healthy after the restart")
    assert read_pid(pid_file) == first and "watching svc pid" in d.log()
    assert d.stop() == 0  # adopted, so stopOnExit stops it, pid file included
    assert not _alive(first) and not pid_file.exists()
