"""The watchdog is never blind and never blames a service for its own trouble (issue 13, 1-3):
idle and slowloris connections at a low fd limit, its own EMFILE and loop lag while checking a
healthy service, and a scheduler whose check loops died."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from tests.support.helpers import demo_service_config, free_port, listening, services_file, wait_for

FAULTS = {"SOULFRA_FAULT_INJECTION": "true", "SOULFRA_LOOP_LAG_THRESHOLD_MS": "500"}



def _tcp_svc(port: int, **extra: Any) -> dict[str, Any]:
    # errorThreshold 1 and a restart ladder: one wrongly counted failure would show
    return {"port": port, "checks": [{"type": "tcp", "timeout": 300}], "interval": 200,
            "errorThreshold": 1, "ladder": ["retry"], **extra}


def _transitions(d: Any, service: str) -> list[dict[str, Any]]:
    _, body = d.get(f"/api/monitoring/events/recent?type=state_changed&service={service}"
                    "&limit=1000")
    return list(body["events"])


def _system_errors(d: Any, category: str) -> list[dict[str, Any]]:
    _, body = d.get(f"/api/monitoring/errors?level=system&category={category}&since=1h")
    return list(body["errors"])


def _checks_total(d: Any) -> int:
    return int(d.get("/api/monitoring/status")[1]["checks"]["total"])


@pytest.mark.timeout(90)
def test_idle_connections_at_a_low_fd_limit_leave_health_reachable(daemon_factory) -> None:
    d = daemon_factory(services_file({}), start=False)
    d.nofile = (256, 256)  # the limit cannot be raised: the daemon must ration its fds
    d.start()
    idle: list[socket.socket] = []
    try:
        for _ in range(400):  # more idle connections than the daemon has fds
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", d.port))
            idle.append(s)
        time.sleep(1.0)
        started = time.monotonic()
        status, body = d.get("/api/monitoring/health")
        assert status == 200 and body["status"] == "healthy", body
        assert time.monotonic() - started < 3.0
        # the daemon's complaints about it are counted, not repeated thousands of times
        time.sleep(2.0)
        log = d.log()
        assert log.count("out of system resource") <= 5, log.count("out of system resource")
    finally:
        for s in idle:
            s.close()


@pytest.mark.timeout(60)
def test_slowloris_connections_are_closed(daemon_factory) -> None:
    d = daemon_factory(services_file({}))
    slow: list[socket.socket] = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            s.sendall(b"GET /api/monitoring/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow.append(s)
        deadline = time.monotonic() + 20
        open_ = set(range(len(slow)))
        while open_ and time.monotonic() < deadline:
            for i in list(open_):  # one more header byte a second: never finishing
                try:
                    slow[i].sendall(b"X")
                    slow[i].setblocking(False)
                    try:
                        if slow[i].recv(1024) == b"":
                            open_.discard(i)
                    except BlockingIOError:
                        pass
                    finally:
                        slow[i].setblocking(True)
                except OSError:
                    open_.discard(i)
            time.sleep(1.0)
        assert not open_, f"{len(open_)} of {len(slow)} slowloris connections still open"
        assert d.get("/api/monitoring/health")[0] == 200
    finally:
        for s in slow:
            s.close()


@pytest.mark.timeout(90)
def test_the_daemon_at_its_fd_limit_does_not_fail_a_healthy_service(daemon_factory) -> None:
    port = free_port()
    listener = listening(port)
    try:
        d = daemon_factory(services_file({"svc": _tcp_svc(port)}), env=FAULTS)
        wait_for(lambda: d.state("svc") == "healthy", what="first check")
        before = _checks_total(d)
        # the daemon opens files until EMFILE and holds them 3 s: its checks cannot connect
        status, _ = d.post("/api/monitoring/debug/faults", {"fault": "exhaust_fds", "ms": 3000})
        assert status == 200
        time.sleep(3.5)
        wait_for(lambda: _checks_total(d) > before + 10, what="checks going on")
        err = wait_for(lambda: _system_errors(d, "FILE_DESCRIPTORS_EXHAUSTED"),
                       what="the daemon's own EMFILE recorded")[0]
        assert err["service"] == "soulfra-supervisor"
        assert "svc" in err["message"]
        time.sleep(1.0)
        assert d.state("svc") == "healthy"
        assert [e for e in _transitions(d, "svc") if e["data"]["state"] != "healthy"] == []
        assert d.service("svc")["recentRecoveries"] == []
        st = d.service("svc")
        assert st["consecutiveFailures"] == 0
        assert not [e for e in d.errors() if e["service"] == "svc"]
        inconclusive = d.get("/api/monitoring/status")[1]["checks"]["inconclusive"]
        assert inconclusive["total"] >= 1 and "fds" in inconclusive["byReason"]
    finally:
        listener.close()


@pytest.mark.timeout(90)
def test_late_timeouts_of_a_blocked_daemon_are_not_the_services_failure(daemon_factory,
                                                                         tmp_path) -> None:
    port = free_port()
    # a service that answers in 150 ms, checked every 200 ms: a check is nearly always in
    # flight when the daemon's loop blocks, and its 400 ms timeout then fires late
    svc = demo_service_config(port, tmp_path / "svc.pid", interval=200, errorThreshold=1,
                              checks=[{"type": "http", "timeout": 400,
                                       "url": f"http://127.0.0.1:{port}/slow?ms=150"}])
    d = daemon_factory(services_file({"svc": svc}), env=FAULTS)
    wait_for(lambda: d.state("svc") == "healthy", what="first check")
    for _ in range(4):  # the loop blocked far past the check's timeout
        assert d.post("/api/monitoring/debug/faults", {"fault": "block_loop", "ms": 1500})[0] \
            == 200
        time.sleep(0.3)
    before = _checks_total(d)
    wait_for(lambda: _checks_total(d) > before + 5, what="checks going on")
    assert [e for e in _transitions(d, "svc") if e["data"]["state"] != "healthy"] == []
    assert d.state("svc") == "healthy"
    assert d.service("svc")["recentRecoveries"] == []
    inconclusive = d.get("/api/monitoring/status")[1]["checks"]["inconclusive"]
    assert "loop_lag" in inconclusive["byReason"]


@pytest.mark.timeout(120)
def test_a_stalled_scheduler_heals_and_health_says_so_meanwhile(daemon_factory) -> None:
    port = free_port()
    listener = listening(port)
    try:
        d = daemon_factory(services_file({"svc": _tcp_svc(port)}),
                           env={**FAULTS, "SOULFRA_SCHEDULER_STALL_GRACE_S": "1"})
        wait_for(lambda: _checks_total(d) >= 2, what="checks running")
        assert d.get("/api/monitoring/health")[1]["monitoring"]["status"] == "ok"
        # every check loop is cancelled, and cancelled again for 8 s whenever one comes back
        assert d.post("/api/monitoring/debug/faults",
                      {"fault": "stall_scheduler", "ms": 8000})[0] == 200

        def broken() -> dict[str, Any] | None:
            status, body = d.get("/api/monitoring/health")
            return body if status == 503 and body["monitoring"]["status"] == "stalled" else None

        body = wait_for(broken, timeout=20, what="/health saying monitoring is stalled")
        assert body["status"] == "critical" and "svc" in body["monitoring"]["overdue"]
        assert _system_errors(d, "SCHEDULER_STALLED")
        # once the fault ends the loops are revived: checking works again, and is trusted
        wait_for(lambda: d.get("/api/monitoring/health")[1]["monitoring"]["status"] == "ok",
                 timeout=40, what="monitoring ok again")
        assert d.get("/api/monitoring/status")[1]["selfwatch"]["scheduler"]["revived"] >= 1
        before = _checks_total(d)
        wait_for(lambda: _checks_total(d) > before + 3, what="checks running again")
        listener.close()  # and a service that breaks now is noticed
        wait_for(lambda: d.state("svc") in ("failing", "recovering", "gave_up"), timeout=20,
                 what="the broken service noticed after the stall")
        assert len(_system_errors(d, "SCHEDULER_STALLED")) == 1
    finally:
        listener.close()
