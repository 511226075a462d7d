"""The command check on real subprocesses: exit code, output match, a hang."""

from __future__ import annotations

import sys
import time

import psutil

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report


def make(type_: str, **cfg):
    cls = health_checks.registry.get(type_)
    return cls(cls.config_model.model_validate({"type": type_, **cfg}), "svc")


async def test_command_exit_code_output_and_hang(tmp_path):
    py = sys.executable
    r = await make("command", command=[py, "-c", "print('queue ok 3')"],
                   outputMatches=r"ok \d+").run()
    assert r.kind is CheckKind.HEALTHY and r.details["exitCode"] == 0
    r = await make("command",
                   command=[py, "-c", "print('token=abc123'); raise SystemExit(3)"]).run()
    assert r.kind is CheckKind.UNHEALTHY and "exited with 3" in r.message
    assert "abc123" not in r.message, "secrets in the output are redacted"
    r = await make("command", command=[py, "-c", "print('degraded')"], outputMatches="^ok").run()
    assert r.kind is CheckKind.UNHEALTHY and "does not match" in r.message
    r = await make("command", command=["/nonexistent/probe"]).run()
    assert r.kind is CheckKind.UNHEALTHY and "cannot run" in r.message
    # A hung probe (with a child of its own) is cut off at the timeout, and nothing is left.
    marker = tmp_path / "hang"
    script = ("import subprocess, sys, time; "
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', "
              f"'{marker}']); time.sleep(60)")
    started = time.monotonic()
    r = await make("command", command=[py, "-c", script], timeout=500).run()
    took = time.monotonic() - started
    report("command hangs", took, r)
    assert r.kind is CheckKind.STALLED and 0.4 < took < 3
    left = [p for p in psutil.process_iter(["cmdline"]) if str(marker) in (p.info["cmdline"] or [])]
    assert not left, "the probe's whole process group was killed"
