"""Processes a benchmark run starts: start, measure (CPU, RSS of a tree), and always stop by pid.

Every process is started with the run's own folder in its command line or is a descendant of
one started here; `Reaper.sweep` stops exactly those (targets that Monit detaches from itself
included), so a run leaves nothing behind, also on an error or Ctrl-C.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], T], timeout: float, interval: float = 0.05,
             what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # not up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def http_get(url: str, timeout: float = 1.0) -> tuple[int, Any]:
    """(status, decoded JSON or text); status 0 when nothing answered in time."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, TimeoutError):
        return 0, None
    try:
        return status, json.loads(body) if body else None
    except ValueError:
        return status, body.decode(errors="replace")


def http_post(url: str, timeout: float = 2.0) -> int:
    req = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(procs: Iterable[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cpu_by_pid(procs: Iterable[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two samples (a process new in `after` counts from zero)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def rss_bytes(procs: Iterable[psutil.Process]) -> int:
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def kill_pid(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


PR_SET_CHILD_SUBREAPER = 36


def become_subreaper(own_pids: Callable[[], set[int]]) -> bool:
    """Adopt the orphans of our descendants and reap them at once.

    Monit starts its programs detached (double fork), so a killed target is reaped by pid 1;
    the pid 1 of these machines reaps only every ~1.7 s, which Monit would pay for while it
    waits for the old process to go. A normal init reaps at once; so does this thread.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False

    def reap() -> None:
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOWAIT)
            except ChildProcessError:
                time.sleep(0.05)
                continue
            if info is None:
                continue
            if info.si_pid in own_pids():
                time.sleep(0.01)  # a child we started: the code that started it waits for it
                continue
            try:
                os.waitpid(info.si_pid, os.WNOHANG)
            except ChildProcessError:
                pass

    threading.Thread(target=reap, name="orphan-reaper", daemon=True).start()
    return True


class Reaper:
    """Owns the processes of one run (directly started, or marked by the run's folder)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.started: list[subprocess.Popen[bytes]] = []

    def own_pids(self) -> set[int]:
        return {p.pid for p in self.started}

    def spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> subprocess.Popen[bytes]:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=env, cwd=cwd,
                                    start_new_session=True)
        self.started.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 10.0,
             marked: Path | None = None) -> None:
        """SIGTERM the process (it may stop its own children), then SIGKILL what is left,
        and every process whose command line names `marked` (what it started detached)."""
        procs = tree(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        for p in procs:
            kill_pid(p.pid, signal.SIGCONT)
            kill_pid(p.pid)
        if proc.poll() is None:
            proc.wait(timeout=10)
        if marked is not None:
            left = self.marked(marked)
            for p in left:
                kill_pid(p.pid, signal.SIGCONT)
                kill_pid(p.pid)
            psutil.wait_procs(left, timeout=5)

    def marked(self, folder: Path | None = None) -> list[psutil.Process]:
        """Processes whose command line names this run's folder (e.g. detached targets)."""
        mark = str(folder or self.run_dir)
        found = []
        for p in psutil.process_iter(["pid", "cmdline"]):
            try:
                if p.pid != os.getpid() and any(mark in a for a in (p.info["cmdline"] or [])):
                    found.append(p)
            except psutil.Error:
                pass
        return found

    def sweep(self) -> None:
        """SIGKILL everything this run started that is still alive, by pid."""
        victims: dict[int, psutil.Process] = {}
        for proc in self.started:
            if proc.poll() is None:
                for p in tree(proc.pid):
                    victims[p.pid] = p
        for p in self.marked():
            victims[p.pid] = p
        for pid in victims:
            kill_pid(pid, signal.SIGCONT)
            kill_pid(pid)
        psutil.wait_procs(list(victims.values()), timeout=5)
        for proc in self.started:
            if proc.poll() is None:
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
