"""The systemd watchdog ping stops when the event loop is blocked or the scheduler stalls (an
in-process daemon, a real notify socket)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from health_checks.base import CheckResult, HealthCheck
from supervisor.api.app import create_app
from supervisor.config.settings import Settings
from supervisor.daemon import Daemon
from supervisor.systemd.notify import Notifier
from tests.support.helpers import services_file, wait_for
from tests.support.notify_socket import NotifySocket

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


def _disk_services(tmp_path: Path, interval: int = 200) -> dict:
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": interval, "timeoutThreshold": 500}})


async def test_watchdog_stops_while_the_event_loop_is_blocked(tmp_path):
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    daemon = _in_process_daemon(tmp_path, listener.address)
    try:
        await daemon.start()
        await asyncio.to_thread(wait_for, lambda: len(listener.times("WATCHDOG=1")) >= 3,
                                what="pings before the block")
        blocked_from = time.monotonic()
        time.sleep(1.5)  # noqa: ASYNC251 (on purpose: blocks the loop as a bad plugin would)
        blocked_until = time.monotonic()
        await asyncio.sleep(0.5)
        during = [t for t in listener.times("WATCHDOG=1") if blocked_from + 0.05 < t
                  < blocked_until]
        assert during == [], f"{len(during)} pings while the loop was blocked"
        after = [t for t in listener.times("WATCHDOG=1") if t > blocked_until]
        assert after, "pings resume once the loop runs again"
    finally:
        await daemon.shutdown()
        listener.close()


class _StuckCheck(HealthCheck):
    """A misbehaving plugin: swallows cancellation, so the scheduler's timeout cannot end it."""

    type_name = "stuck"

    async def run(self) -> CheckResult:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if getattr(self, "release", False):
                    raise


async def test_watchdog_stops_when_the_scheduler_stalls(tmp_path):
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    daemon = _in_process_daemon(tmp_path, listener.address)
    daemon.watchdog.stall_slack_s = 0.5  # the default 5 s would only make this test slower
    stuck = None
    try:
        await daemon.start()
        await asyncio.to_thread(wait_for, lambda: len(listener.times("WATCHDOG=1")) >= 3,
                                what="pings while healthy")
        rt = daemon.scheduler.services["disk"]
        stuck = _StuckCheck(rt.checks[0].config, "disk")
        rt.checks = [stuck]
        await asyncio.to_thread(wait_for, lambda: daemon.watchdog.stalled, timeout=15,
                                what="the stall to be noticed")
        noticed = time.monotonic()
        await asyncio.sleep(1.0)
        assert not [t for t in listener.times("WATCHDOG=1") if t > noticed + 0.05]
        assert any(line.startswith("STATUS=STALLED") and "disk" in line
                   for line in listener.lines())
    finally:
        if stuck is not None:
            stuck.release = True
        await daemon.shutdown()
        listener.close()


def _in_process_daemon(tmp_path: Path, address: str) -> Daemon:
    config = tmp_path / "services.json"
    config.write_text(json.dumps(_disk_services(tmp_path)))
    settings = Settings(config=config, port=0, data_dir=tmp_path / "data",
                        config_poll_interval=0, shutdown_timeout=5)
    # Pings every 0.1 s: a 1.5 s block spans many of them.
    return Daemon(settings, notifier=Notifier(address, watchdog_usec=200_000), api=create_app)
