"""Helpers for tests that run the real daemon and real services as subprocesses."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scripts" / "demo_service.py"
T = TypeVar("T")


def read_pid(pid_file: Path) -> int:
    """The pid a pid file holds (the daemon writes "<pid>\\n")."""
    return int(pid_file.read_text().split()[0])


def config_problems(data: dict[str, Any]) -> str:
    """The problems `soulfra-supervisor validate` would list for this services.json, one a
    line; fails the test when the config is valid."""
    from supervisor.config.loader import parse_config
    from supervisor.config.services import ConfigError

    try:
        parse_config(data)
    except ConfigError as exc:
        return "\n".join(exc.problems)
    raise AssertionError("the config was accepted")


def free_port() -> int:
    """A port free right now, below the kernel's ephemeral range: a port that bind(0) hands
    out is also where the outgoing connections of every process on the machine land, and one
    of them took a daemon's port between this probe and its bind (CI, "Address already in
    use"). Under pytest-xdist a worker takes only the ports that are its own number modulo the
    worker count, so two workers never pick the same one."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    count = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 20000), low)
        if port % count != worker:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port below {low}")


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def listening(port: int, backlog: int = 256) -> socket.socket:
    """A TCP listener on 127.0.0.1:port that never accepts: a healthy tcp check's target."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(backlog)
    return s


def wait_for(predicate: Callable[[], T], timeout: float = 20.0, interval: float = 0.1,
             what: str = "condition") -> T:
    """Poll until predicate() is truthy; return it, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except Exception as exc:  # the daemon may not be up yet
            last = exc
        if last and not isinstance(last, Exception):
            return last  # type: ignore[no-any-return]  # what predicate() returned
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; last: {last!r}")


def http(method: str, url: str, body: Any = None, raw: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 5.0) -> tuple[int, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, payload.decode(errors="replace")


def kill_tree(pid: int) -> None:
    """SIGKILL a process and everything below it (and SIGCONT first, in case it was stopped)."""
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    procs = [parent, *parent.children(recursive=True)]
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)


def demo_service_config(port: int, pid_file: Path, **overrides: Any) -> dict[str, Any]:
    """A services.json entry for scripts/demo_service.py that the daemon starts and restarts."""
    svc: dict[str, Any] = {
        "port": port, "healthCheckPath": "/health", "interval": 1000,
        "timeoutThreshold": 1000, "errorThreshold": 2, "autoRestart": True,
        "restart": {"command": [sys.executable, str(DEMO), "--port", str(port)],
                    "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True,
                    "stopTimeout": 2000},
    }
    svc.update(overrides)
    return svc


def services_file(services: dict[str, Any], **recovery: Any) -> dict[str, Any]:
    rec = {"maxAttempts": 3, "backoffMultiplier": 2, "initialDelay": 200, "startupGrace": 5000,
           **recovery}
    return {"errorMonitoring": {"services": services, "recovery": rec}}


class DaemonProcess:
    """soulfra-supervisor run as a subprocess, owned (and always stopped) by a test."""

    def __init__(self, tmp: Path, config: dict[str, Any], env: dict[str, str] | None = None):
        self.tmp = tmp
        self.config_path = tmp / "services.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.data_dir = tmp / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "daemon.log"
        # A short graceful-stop bound: a test's daemon often has a recovery in flight when the
        # test ends, and waiting 60 % of the default 20 s for it only costs suite time. Tests
        # of shutdown itself pass their own bound.
        self.env = {**os.environ, "SOULFRA_LOG_FORMAT": "json", "SOULFRA_SHUTDOWN_TIMEOUT": "4",
                    **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        # (soft, hard) RLIMIT_NOFILE for the daemon process, to test it at a low fd limit.
        self.nofile: tuple[int, int] | None = None

    def start(self, wait: bool = True) -> DaemonProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(self.config_path),
             "--port", str(self.port), "--data-dir", str(self.data_dir)],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            preexec_fn=self._limit_fds if self.nofile else None)
        if wait:
            wait_for(lambda: self.get("/api/monitoring/health")[0] in (200, 503), timeout=20,
                     what=f"daemon API on {self.url} (log {self.log_path})")
        return self

    def _limit_fds(self) -> None:
        import resource

        assert self.nofile is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def get(self, path: str) -> tuple[int, Any]:
        return http("GET", self.url + path)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return http("POST", self.url + path, body, **kw)

    def service(self, name: str) -> dict[str, Any]:
        service: dict[str, Any] = self.get(f"/api/monitoring/services/{name}")[1]
        return service

    def state(self, name: str) -> str:
        return str(self.get("/api/monitoring/health")[1]["services"][name]["status"])

    def errors(self, since: str = "1h") -> list[dict[str, Any]]:
        return list(self.get(f"/api/monitoring/errors?since={since}")[1]["errors"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_tree(self.proc.pid)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode
