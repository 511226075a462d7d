"""Real servers owned by a test: redis-server and mosquitto on free ports, killed by PID.

Use the pytest fixtures `redis_server` / `mosquitto_server` (registered in conftest.py), or the
classes directly when a test must kill and restart a server mid-test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Self

from tests.support.helpers import free_port, kill_tree


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if Path(p).exists()), None)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run scripts/test (it installs it as root)")
    return found


class ServerProcess:
    """A server on a fixed free port that can be stopped and started again on the same port."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def argv(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def start(self) -> Self:
        log = open(self.workdir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(self.argv(), cwd=self.workdir, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        _wait_port(self.port)
        return self

    def kill(self) -> None:
        """SIGKILL: the server vanishes without a goodbye, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            kill_tree(self.proc.pid)
            self.proc.wait()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


class RedisServer(ServerProcess):
    name = "redis"

    def argv(self) -> list[str]:
        return [_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.workdir)]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class MosquittoServer(ServerProcess):
    name = "mosquitto"

    def argv(self) -> list[str]:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        "persistence false\n")
        return [_binary("mosquitto"), "-c", str(conf)]
