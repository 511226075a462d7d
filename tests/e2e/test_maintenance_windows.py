"""Recurring maintenance windows (cron + time zone + duration): a window that starts and ends
during the test puts the service in maintenance; a crash inside it neither alerts nor restarts;
the same failure right after the window does both. Plus what a bad window says."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import psutil
import pytest

from tests.support.alerts import alerts_of
from tests.support.helpers import (
    config_problems,
    demo_service_config,
    free_port,
    read_pid,
    services_file,
    wait_for,
)


def cron_at(when: datetime) -> str:
    """A six-field cron (seconds first) that fires once a day at `when`, UTC."""
    return f"{when.second} {when.minute} {when.hour} * * *"


@pytest.mark.timeout(120)
def test_a_failure_inside_a_cron_window_neither_alerts_nor_restarts(
        daemon_factory, receiver, tmp_path):  # noqa: F811
    port, pid_file = free_port(), tmp_path / "demo.pid"
    cfg = services_file({"demo": demo_service_config(port, pid_file, interval=300,
                                                     errorThreshold=1)})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0,
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    # a window a few seconds from now, added by a live reload (however slow the start was)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    cfg["errorMonitoring"]["alerts"]["maintenance"] = [
        {"services": ["de*"], "cron": cron_at(start), "timezone": "UTC", "durationMs": 6000,
         "comment": "nightly backup"}]
    d.config_path.write_text(json.dumps(cfg))
    status, body = d.post("/api/monitoring/reload")
    assert status == 200, body
    (window,) = [s for s in d.get("/api/monitoring/silences")[1]["silences"]
                 if s["id"] == "config-maintenance-0"]
    assert window["cron"] == cron_at(start) and window["state"] == "pending"
    assert window["start"] == start.isoformat()
    wait_for(lambda: d.state("demo") == "maintenance", timeout=20, interval=0.1,
             what="the window began")
    assert datetime.now(UTC) >= start
    paused = d.service("demo")["recovery"]["paused"]
    assert paused["by"] == "maintenance window 0" and paused["reason"] == "nightly backup"

    pid = read_pid(pid_file)
    os.kill(pid, signal.SIGKILL)  # a crash inside the window
    time.sleep(2.0)
    assert d.state("demo") == "maintenance"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
    # the daemon removes the pid file of a child that died (issue 13, item 6); a restart would
    # have written a new pid
    assert not pid_file.exists() or read_pid(pid_file) == pid, "not restarted inside the window"
    assert receiver.of("webhook") == [], "no alert inside the window"

    # the window ends: the service is checked again, found down, paged about and restarted
    wait_for(lambda: alerts_of(receiver.of("webhook")), timeout=20, what="an alert after")
    ended = start + timedelta(seconds=6)
    first = alerts_of(receiver.of("webhook"))[0]
    assert first["kind"] == "firing" and first["service"] == "demo"
    assert first["timestamp"] / 1000 >= ended.timestamp() - 0.5
    wait_for(lambda: read_pid(pid_file) != pid and d.state("demo") == "healthy", timeout=30,
             what="restarted after the window")
    wait_for(lambda: "recovered" in [a["kind"] for a in alerts_of(receiver.of("webhook"))],
             what="recovered")


def test_window_mistakes_name_the_field() -> None:
    bad = {"errorMonitoring": {"services": {}, "alerts": {"maintenance": [
        {"services": ["a"], "cron": "0 3 * * sun", "timezone": "Mars/Olympus",
         "durationMs": 1000},
        {"services": ["a"], "cron": "0 3 * *", "durationMs": 1000},
        {"services": ["a"], "cron": "0 25 * * *", "durationMs": 1000},
        {"services": ["a"], "cron": "0 3 * * *"},
        {"services": ["a"], "cron": "0 3 * * *", "durationMs": 1000,
         "start": "2026-01-01T00:00:00Z"},
        {"services": ["a"]},
        {"services": ["a"], "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
         "pause": True}]}}}
    text = config_problems(bad)
    assert "maintenance[0]: unknown time zone 'Mars/Olympus'" in text
    assert "maintenance[1]: cron '0 3 * *' has 4 fields" in text
    assert "maintenance[2]: cron '0 25 * * *'" in text
    assert "maintenance[3]: a cron window needs durationMs" in text
    assert "maintenance[4]: give either cron with durationMs, or start and end" in text
    assert "maintenance[5]: give start and end, or cron with durationMs" in text
    assert "maintenance[6]: pause applies to recurring (cron) windows" in text
