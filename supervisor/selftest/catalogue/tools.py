"""Small verbs the faults are written in: signal a service's process, ask the service to
misbehave, read a pid file. Real actions only; nothing here simulates a fault."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

from supervisor.selftest.lab import read_pid


def base_url(entry: dict[str, Any]) -> str:
    return f"http://127.0.0.1:{entry['port']}"


def pid_file(entry: dict[str, Any]) -> Path:
    return Path(entry["restart"]["pidFile"])


def kill(entry: dict[str, Any], sig: int) -> None:
    """Signal the service's process (the pid its pid file names)."""
    pid = read_pid(pid_file(entry))
    if pid is None:
        raise RuntimeError(f"no pid in {pid_file(entry)}: the service is not running")
    os.kill(pid, sig)


def post(url: str, timeout: float = 3.0) -> None:
    """POST to the service (an order to misbehave, or to stop)."""
    req = urllib.request.Request(url, data=b"", method="POST")
    urllib.request.urlopen(req, timeout=timeout).close()


def write(path: Path, text: str) -> None:
    path.write_text(text)


def health(entry: dict[str, Any], timeout: float = 2.0) -> dict[str, Any]:
    """The throwaway service's /health answer ({} when it does not answer 200)."""
    try:
        with urllib.request.urlopen(base_url(entry) + "/health", timeout=timeout) as resp:
            body = json.loads(resp.read())
            return body if isinstance(body, dict) else {}
    except (OSError, ValueError):
        return {}


def wait_answering(entry: dict[str, Any], timeout: float = 15.0) -> None:
    """Until the throwaway service answers /health (one the lab started itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(entry, timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the service on port {entry['port']} did not answer in {timeout:.0f} s")
