"""The daemon under test: `python -m supervisor run` on a free loopback port with a temporary
data directory and the generated services.json, stopped by its pid.

Its environment is a short allow-list, not the caller's: a user's SOULFRA_* settings and
alert channels (SLACK_WEBHOOK_URL, ERROR_EMAIL, ...) must not reach the throwaway daemon, or
a selftest would page someone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from supervisor.cli.remote import Api, Unreachable
from supervisor.selftest.lab import die_with_parent

KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH",
            "VIRTUAL_ENV", "SYSTEMROOT")


class Daemon:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.api = Api(self.url, timeout=5.0)
        self.log_path = root / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, config: dict[str, Any], timeout: float = 30.0) -> None:
        path = self.root / "services.json"
        path.write_text(json.dumps(config, indent=2))
        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        # The observers' API calls are the daemon's CPU too: with the default budget (5 % of a
        # core) they would make it stretch every check interval, which a real daemon of a
        # few dozen services never sees. The budget itself is not what selftest proves.
        env.update(SOULFRA_LOG_FORMAT="json", SOULFRA_SHUTDOWN_TIMEOUT="4",
                   MONITORING_OVERHEAD_LIMIT="50")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "supervisor", "run", "--config", str(path),
                 "--port", str(self.port), "--data-dir", str(self.root / "data")],
                cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited ({self.proc.returncode}); its log: "
                                   f"{self.log_tail()}")
            try:
                if self.api.request("GET", "/api/monitoring/health")[0] in (200, 503):
                    return
            except Unreachable:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the daemon's API did not answer within {timeout:.0f} s")

    def get(self, path: str) -> Any:
        status, body = self.api.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body}")
        return body

    def service(self, name: str) -> dict[str, Any]:
        body: dict[str, Any] = self.get(f"/api/monitoring/services/{name}")
        return body

    def states(self) -> dict[str, str]:
        services = self.api.request("GET", "/api/monitoring/health")[1]["services"]
        return {n: str(s["status"]) for n, s in services.items()}

    def log_tail(self, lines: int = 5) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (the daemon stops the services it started), SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
