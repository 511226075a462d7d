"""A service several cluster nodes watch (`shared: true`): one scripts/demo_service.py on one port,
every start appended to a starts file, so a test counts how many processes were started and by
whom; every process it ever ran is stopped by its pid at the end."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from tests.support.helpers import demo_service_config, free_port, services_file


class SharedService:
    def __init__(self, tmp: Path, name: str = "web") -> None:
        self.name = name
        self.port = free_port()
        self.pid_file = tmp / f"{name}.pid"
        self.starts_file = tmp / f"{name}.starts"
        self.config: dict[str, Any] = demo_service_config(
            self.port, self.pid_file, shared=True, interval=500, errorThreshold=2)
        self.config["restart"]["command"] += ["--starts-file", str(self.starts_file)]
        self.config["restart"]["stopOnExit"] = False  # the nodes come and go, it stays
        self._first: subprocess.Popen[bytes] | None = None

    def start(self) -> SharedService:
        """Started by the test (as a deployment would), before the nodes watch it."""
        self._first = subprocess.Popen(self.config["restart"]["command"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        self.pid_file.write_text(f"{self._first.pid}\n")
        return self

    def starts(self) -> list[int]:
        """The pid of every process of the service ever started, in order."""
        if not self.starts_file.exists():
            return []
        return [int(line) for line in self.starts_file.read_text().split()]

    def kill(self) -> int:
        """SIGKILL the running process; returns its pid."""
        pid = self.starts()[-1]
        os.kill(pid, signal.SIGKILL)
        if self._first is not None and self._first.pid == pid:
            self._first.wait()
        return pid

    def parent_of(self, pid: int) -> int | None:
        try:
            return int(psutil.Process(pid).ppid())
        except psutil.NoSuchProcess:
            return None

    def stop_all(self) -> None:
        for pid in self.starts():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self._first is not None and self._first.poll() is None:
            self._first.wait()


def cluster_config(services: dict[str, Any], receiver_url: str | None = None) -> dict[str, Any]:
    """services.json for a node: quick recoveries, and (with a receiver) firing at once."""
    cfg = services_file(services, maxAttempts=2, initialDelay=200, jitter=0,
                        startupGrace=5000)
    if receiver_url is not None:
        cfg["errorMonitoring"]["alerts"] = {
            "fireOn": "failing", "groupWindowMs": 0,
            "channels": [{"type": "webhook", "url": receiver_url, "minIntervalMs": 0}]}
    return cfg
