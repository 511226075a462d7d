"""The self-watch's stack-taking thread in a process that forks (every restart strategy with a
preexec step does)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from supervisor.observability import selfwatch


@pytest.mark.timeout(30)
def test_a_fork_beside_the_watchdog_thread_prints_no_traceback() -> None:
    # Thread subclasses must not shadow Thread's own attributes: the child of a fork calls
    # each live thread's _stop(), and an Event there printed a TypeError on every fork.
    watchdog = selfwatch.LoopStackWatchdog(0, 5.0)
    watchdog.start()
    try:
        done = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None,
                              capture_output=True, text=True, timeout=20, check=True)
    finally:
        watchdog.stop()
        watchdog.join(5)
    assert "Traceback" not in done.stderr and "TypeError" not in done.stderr, done.stderr
