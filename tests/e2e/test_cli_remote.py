"""The CLI against a running daemon: status, errors, recover, watch (real subprocesses)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.support.helpers import (
    ROOT,
    demo_service_config,
    free_port,
    read_pid,
    services_file,
    wait_for,
)


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "supervisor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def test_status_errors_recover_and_watch_follow_a_failure(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    # Given up on at once (no automatic restart), so the CLI has to repair it.
    demo = demo_service_config(port, pid_file, autoRestart=False, ladder=["restart"])
    d = daemon_factory(services_file({"demo": demo}))
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")

    ok = cli("status", "--url", d.url)
    assert ok.returncode == 0, ok.stderr
    assert "demo" in ok.stdout and "healthy" in ok.stdout and "overall: healthy" in ok.stdout

    watcher = subprocess.Popen(
        [sys.executable, "-m", "supervisor", "watch", "--url", d.url, "--types",
         "state_changed", "--count", "3"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
    try:
        assert watcher.stdout is not None
        assert "connected to" in watcher.stdout.readline()  # connected before the failure
        os.kill(read_pid(pid_file), signal.SIGKILL)
        out, _ = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, out
    lines = [ln for ln in out.splitlines() if "state_changed" in ln]
    assert len(lines) == 3, out
    assert "healthy → failing" in lines[0] and "SIGKILL" in lines[0]
    assert "→ gave_up" in lines[2]

    down = cli("status", "--url", d.url)
    assert down.returncode == 2, down.stdout  # the only service is down: critical
    assert "gave_up" in down.stdout and "connection refused" in down.stdout, down.stdout
    assert "RECOVERY_FAILED" in down.stdout

    errs = cli("errors", "--since", "1h", "--url", d.url)
    assert errs.returncode == 0, errs.stderr
    assert "PROCESS_EXITED" in errs.stdout and "RECOVERY_FAILED" in errs.stdout
    assert "since 1h: 2 error(s)" in errs.stdout
    bad = cli("errors", "--since", "yesterday", "--url", d.url)
    assert bad.returncode == 1 and "since" in bad.stdout

    plan = cli("recover", "demo", "--dry-run", "--url", d.url)
    assert plan.returncode == 0, plan.stdout
    assert "nothing was done" in plan.stdout and "restart_command" in plan.stdout
    assert d.state("demo") == "gave_up", "a dry run must not touch the service"

    fixed = cli("recover", "demo", "--force", "--url", d.url)
    assert fixed.returncode == 0, fixed.stdout
    assert "succeeded" in fixed.stdout and "attempt 1: ok" in fixed.stdout
    assert d.state("demo") == "healthy"

    unknown = cli("recover", "nope", "--url", d.url)
    assert unknown.returncode == 1 and "unknown service" in unknown.stdout


def test_unreachable_daemon_exits_3():
    r = cli("status", "--url", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 3
    assert "not reachable" in r.stderr
