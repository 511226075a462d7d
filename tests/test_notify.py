"""sd_notify against a real datagram socket the test listens on, as systemd would."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from health_checks.base import CheckResult, HealthCheck
from supervisor.api.app import create_app
from supervisor.config.settings import Settings
from supervisor.daemon import Daemon
from supervisor.systemd.notify import Notifier
from tests.helpers import free_port, http, services_file, wait_for


class NotifySocket:
    """A listening NOTIFY_SOCKET; a thread records every datagram with its arrival time."""

    def __init__(self, path: str) -> None:
        self.address = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + path[1:] if path.startswith("@") else path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, list[str]]] = []
        self.on_message: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode().split("\n")
            self.messages.append((time.monotonic(), lines))
            for fn in self.on_message:
                fn(lines)

    def lines(self) -> list[str]:
        return [line for _, lines in self.messages for line in lines]

    def times(self, line: str) -> list[float]:
        return [at for at, lines in self.messages if line in lines]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def _disk_services(tmp_path: Path, interval: int = 200) -> dict:
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": interval, "timeoutThreshold": 500}})


def test_daemon_reports_ready_status_watchdog_reload_and_stopping(daemon_factory, tmp_path):
    listener = NotifySocket(f"@soulfra-test-{secrets.token_hex(6)}")
    api_up_at_ready: list[int] = []
    try:
        d = daemon_factory(_disk_services(tmp_path), start=False,
                           env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "400000"})

        def check_api(lines: list[str]) -> None:  # at READY=1 the API must already answer
            if "READY=1" in lines and not api_up_at_ready:
                api_up_at_ready.append(http("GET", d.url + "/api/monitoring/health")[0])

        listener.on_message.append(check_api)
        d.start(wait=False)
        wait_for(lambda: api_up_at_ready, what="READY=1")
        assert api_up_at_ready[0] == 200, "READY=1 came before the API answered"
        wait_for(lambda: any(line.startswith("STATUS=1 service: 1 healthy")
                             for line in listener.lines()), what="STATUS with the summary")
        wait_for(lambda: len(listener.times("WATCHDOG=1")) >= 5, what="watchdog pings")

        assert d.proc is not None
        before = len(listener.messages)
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: any("RELOADING=1" in m for _, m in listener.messages[before:]),
                 what="RELOADING=1")
        reload_msg = next(m for _, m in listener.messages[before:] if "RELOADING=1" in m)
        usec = int(next(x for x in reload_msg if x.startswith("MONOTONIC_USEC="))
                   .split("=")[1])
        assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 30
        reloading_at = listener.times("RELOADING=1")[0]
        wait_for(lambda: any(at > reloading_at for at in listener.times("READY=1")),
                 what="READY=1 after the reload")

        assert d.stop() == 0
        assert "STOPPING=1" in listener.lines()
    finally:
        listener.close()


def test_children_do_not_inherit_the_notify_socket(daemon_factory, tmp_path):
    dump = tmp_path / "child-env.json"
    code = ("import json, os, sys, time; json.dump(dict(os.environ), open(sys.argv[1], 'w'));"
            " time.sleep(60)")
    svc = {"checks": [{"type": "tcp", "port": free_port(), "timeout": 300}],
           "interval": 60000, "autoRestart": False,
           "restart": {"command": [sys.executable, "-c", code, str(dump)],
                       "pidFile": str(tmp_path / "child.pid"), "autoStart": True,
                       "stopOnExit": True, "stopTimeout": 1000}}
    daemon_factory(services_file({"child": svc}),
                   env={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens"),
                        "WATCHDOG_USEC": "1000000"})
    env = wait_for(lambda: dump.exists() and json.loads(dump.read_text() or "null"),
                   what="the child's environment")
    assert "NOTIFY_SOCKET" not in env and "WATCHDOG_USEC" not in env
    assert "PATH" in env


def test_without_notify_socket_everything_is_a_no_op():
    n = Notifier.from_environ({})
    assert not n.enabled
    assert n.ready("x") is False and n.watchdog() is False and n.stopping() is False
    assert n.watchdog_interval_s is None
    # A watchdog meant for another pid is not ours to ping.
    other = Notifier.from_environ({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000",
                                   "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.enabled and other.watchdog_interval_s is None
    other.close()


async def test_watchdog_stops_while_the_event_loop_is_blocked(tmp_path):
    listener = NotifySocket(str(tmp_path / "notify.sock"))
    daemon = _in_process_daemon(tmp_path, listener.address)
    try:
        await daemon.start()
        await asyncio.to_thread(wait_for, lambda: len(listener.times("WATCHDOG=1")) >= 3,
                                what="pings before the block")
        blocked_from = time.monotonic()
        time.sleep(1.5)  # synchronous work on the loop: what a blocking plugin would do
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
