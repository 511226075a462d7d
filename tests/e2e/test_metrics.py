"""GET /metrics, parsed with prometheus-client's own parser, after real failures."""

from __future__ import annotations

import os
import signal
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.helpers import demo_service_config, free_port, services_file, wait_for

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}} from the daemon's /metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(m: dict, name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for k, v in m.get(name, {}).items() if want <= set(k))


def test_metrics_follow_a_failure_and_its_recovery(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    d = daemon_factory(services_file({"demo": demo_service_config(port, pid_file)}))
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    m = scrape(d.url)
    assert value(m, "soulfra_service_state", service="demo", state="healthy") == 1
    assert value(m, "soulfra_service_state", service="demo", state="failing") == 0
    assert value(m, "soulfra_service_up", service="demo") == 1
    assert value(m, "soulfra_check_duration_seconds_count", type="http") >= 1
    assert value(m, "soulfra_check_results_total", service="demo", outcome="healthy") >= 1
    assert "soulfra_alert_outbox_depth" in m and "soulfra_event_loop_lag_seconds" in m
    assert value(m, "process_resident_memory_bytes") > 0

    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)

    def recovered() -> dict | None:
        m = scrape(d.url)
        done = value(m, "soulfra_recoveries_total", service="demo", outcome="succeeded")
        return m if done >= 1 and value(m, "soulfra_service_up", service="demo") == 1 else None

    m = wait_for(recovered, timeout=30, what="a succeeded recovery in /metrics")
    strategies = {dict(k)["strategy"] for k, v in m["soulfra_recoveries_total"].items() if v}
    assert strategies and "none" not in strategies
    assert value(m, "soulfra_recovery_attempts_total", service="demo", outcome="ok") >= 1
    assert value(m, "soulfra_errors_total", category="PROCESS_EXITED", severity="high") == 1
    assert value(m, "soulfra_state_transitions_total", service="demo", state="failing") == 1
    assert value(m, "soulfra_recovery_duration_seconds_count", service="demo") == 1


def test_alert_deliveries_and_outbox_depth(daemon_factory, tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    svc = {"checks": [{"type": "tcp", "host": "127.0.0.1", "port": port}], "interval": 300,
           "timeoutThreshold": 500, "errorThreshold": 1, "autoRestart": False}
    cfg = services_file({"svc": svc})
    # The webhook's receiver is down (nothing listens): every delivery fails and stays queued.
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0,
        "channels": [{"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook",
                      "minIntervalMs": 0}]}
    try:
        d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
        wait_for(lambda: d.state("svc") == "healthy", what="svc healthy")
    finally:
        listener.close()  # the service goes down: an alert fires

    def undelivered() -> dict | None:
        m = scrape(d.url)
        tried = sum(v for k, v in m.get("soulfra_alert_deliveries_total", {}).items()
                    if dict(k)["channel"] == "webhook")
        return m if tried >= 1 and value(m, "soulfra_alert_outbox_depth") >= 1 else None

    m = wait_for(undelivered, timeout=30, what="a failed delivery and a queued alert")
    outcomes = {dict(k)["outcome"] for k in m["soulfra_alert_deliveries_total"]}
    assert "delivered" not in outcomes, outcomes


def test_a_blocked_event_loop_shows_as_lag_and_as_an_error(daemon_factory, tmp_path):
    d = daemon_factory(services_file({}), env={"SOULFRA_FAULT_INJECTION": "true"})
    # Code that blocks the loop by mistake (a sync sleep in a handler): every timer fires late.
    status, _ = d.post("/api/monitoring/debug/faults", {"fault": "block_loop", "ms": 2000})
    assert status == 200

    def lagged() -> dict | None:
        m = scrape(d.url)
        total = value(m, "soulfra_event_loop_lag_seconds_distribution_count")
        under_1s = value(m, "soulfra_event_loop_lag_seconds_distribution_bucket", le="1.0")
        blocked = value(m, "soulfra_errors_total", category="EVENT_LOOP_BLOCKED")
        return m if total - under_1s >= 1 and blocked >= 1 else None

    wait_for(lagged, timeout=15, what="a loop lag over 1 s and an EVENT_LOOP_BLOCKED error")


def test_a_stopped_daemon_shows_event_loop_lag(daemon_factory, tmp_path):
    d = daemon_factory(services_file({}))
    assert d.proc is not None
    os.kill(d.proc.pid, signal.SIGSTOP)  # frozen from outside: the loop cannot run at all
    try:
        time.sleep(2.5)
    finally:
        os.kill(d.proc.pid, signal.SIGCONT)

    def lagged() -> bool:
        m = scrape(d.url)
        total = value(m, "soulfra_event_loop_lag_seconds_distribution_count")
        under_1s = value(m, "soulfra_event_loop_lag_seconds_distribution_bucket", le="1.0")
        return total - under_1s >= 1

    wait_for(lagged, timeout=10, what="a loop lag over 1 s in the histogram")
