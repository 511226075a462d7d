"""The workbench a fault is set up on: a folder of its own, free loopback ports, the command
line of the throwaway service, and helper processes (a Redis, a broker) that the lab starts
and always stops by pid — also when the run is interrupted.

Services the daemon starts (`restart.command`) are the daemon's to stop (`stopOnExit`); the
lab only remembers their pid files so that `close()` can kill what a killed daemon left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

COMMON = {"interval": 1000, "timeoutThreshold": 1000, "errorThreshold": 2}


def die_with_parent() -> None:
    """For Popen's preexec_fn: the child gets SIGTERM when the selftest dies, even by SIGKILL
    (Linux's PR_SET_PDEATHSIG), so no daemon or helper outlives an abandoned run."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the try/finally cleanup is all there is


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    def __init__(self, root: Path, daemon_url: str) -> None:
        self.root = root
        self.daemon_url = daemon_url
        self._procs: list[subprocess.Popen[bytes]] = []
        self._pid_files: list[tuple[Path, str]] = []  # (pid file, text its command line holds)
        self._undo: list[Callable[[], object]] = []

    def folder(self, fault: str) -> Path:
        path = self.root / fault
        path.mkdir(parents=True, exist_ok=True)
        return path

    def service_argv(self, port: int, pid_file: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "supervisor.selftest.service", "--port", str(port),
                "--pidfile", str(pid_file), *extra]

    def service(self, name: str, *extra: str, **overrides: Any) -> dict[str, Any]:
        """A services.json entry for the throwaway service, started and restarted by the
        daemon; `port` and `pidFile` are in the entry (and `restart.pidFile`)."""
        port = free_port()
        pid_file = self.folder(name) / "service.pid"
        self.remember_pid_file(pid_file)
        entry: dict[str, Any] = {
            "port": port, "healthCheckPath": "/health", **COMMON, "autoRestart": True,
            "restart": {"command": self.service_argv(port, pid_file, *extra),
                        "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True,
                        "stopTimeout": 2000}}
        entry.update(overrides)
        return entry

    def spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        """A helper process (a server the faults need), in its own session, logged to the
        lab; stopped by close()."""
        log = open(self.root / f"{name}.log", "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                env=env, start_new_session=True, preexec_fn=die_with_parent)
        log.close()
        self._procs.append(proc)
        return proc

    def remember_pid_file(self, path: Path, marker: str | None = None) -> None:
        """close() kills the process this pid file names if its command line holds `marker`
        (default: the pid file's path), i.e. it is still this lab's process."""
        self._pid_files.append((path, marker or str(path)))

    def on_close(self, fn: Callable[[], object]) -> None:
        """Run `fn` at close(), after the processes are stopped (e.g. unmount a tmpfs)."""
        self._undo.append(fn)

    def mount_tmpfs(self, where: Path, options: str) -> None:
        """A small tmpfs (needs root), unmounted at close()."""
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"mount tmpfs on {where}: {done.stderr.strip()}")
        self.on_close(lambda: subprocess.run(["umount", "-l", str(where)], check=False,
                                             capture_output=True))

    def close(self) -> None:
        """Stop every helper (SIGTERM, SIGKILL after 3 s) and whatever a pid file names that
        is still running (a service a killed daemon could not stop)."""
        for proc in self._procs:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGCONT)
                _signal_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 3
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        for path, marker in self._pid_files:
            pid = read_pid(path)
            if pid and _is_ours(pid, marker):
                _signal_group(pid, signal.SIGCONT)
                _signal_group(pid, signal.SIGKILL)
        for fn in reversed(self._undo):
            try:
                fn()
            except Exception:  # noqa: BLE001 - one failed undo must not stop the others
                pass


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_ours(pid: int, marker: str) -> bool:
    """The pid still names a process of this lab (its command line holds `marker`), not a
    stranger that got the number since."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in cmdline


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
