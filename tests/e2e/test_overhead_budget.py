"""MONITORING_OVERHEAD_LIMIT is a budget the daemon keeps: over it, the intervals of
non-critical services are stretched, never the critical ones, and the daemon says so; under
it again, the configured intervals come back."""

from __future__ import annotations

import subprocess
import sys

import pytest

import health_checks
from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler, ServiceRuntime
from supervisor.core.state import StateTracker
from supervisor.observability.overhead import OverheadBudget
from tests.support.helpers import ROOT, free_port, http, kill_tree, services_file, wait_for

SERVER = ROOT / "tests" / "support" / "keepalive_server.py"


class Clock:
    """CPU and wall readings the test advances: the budget reacts to the share, not time."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.wall = 0.0

    def spend(self, share_percent: float, seconds: float = 5.0) -> None:
        self.wall += seconds
        self.cpu += seconds * share_percent / 100


def _scheduler() -> Scheduler:
    bus = EventBus()
    sched = Scheduler(StateTracker(bus), bus, 10)
    disk = health_checks.registry.get("disk")
    for name, critical in (("db", True), ("web", False), ("batch", False)):
        check = disk(disk.config_model.model_validate({"type": "disk", "path": "/"}), name)
        sched.add(ServiceRuntime(name, 30.0, [check], critical=critical), start=False)
    return sched


async def test_over_the_limit_stretches_non_critical_only_and_comes_back():
    sched = _scheduler()
    clock = Clock()
    reported: list[str] = []
    budget = OverheadBudget(sched, sched.bus, 5.0, cpu_time=lambda: clock.cpu,
                            wall_time=lambda: clock.wall,
                            report=lambda c, message, **_: reported.append(message))
    budget.sample()  # the first reading only sets the baseline
    clock.spend(20.0)
    budget.sample()
    db, web, batch = (sched.services[n] for n in ("db", "web", "batch"))
    assert sched.interval_of(db) == 30.0, "a critical service keeps its interval"
    assert sched.interval_of(web) > 30.0 and sched.interval_of(batch) > 30.0
    assert len(reported) == 1 and "over the limit of 5 %" in reported[0]
    assert [e.type for e in sched.bus.recent] == ["overhead_exceeded"]
    status = budget.to_dict()
    assert status["state"] == "stretched" and status["stretchedServices"] == 2
    assert status["criticalServices"] == 1 and status["since"] is not None
    # Still over: stretched further. Just under: left alone (no see-saw).
    stretch = sched.stretch
    clock.spend(20.0)
    budget.sample()
    assert sched.stretch > stretch
    for _ in range(8):
        clock.spend(4.5)
        budget.sample()
    steady = sched.stretch
    clock.spend(4.5)
    budget.sample()
    assert sched.stretch == steady
    # Well under the limit for a while: the configured intervals return, and it says so.
    for _ in range(10):
        clock.spend(0.5)
        budget.sample()
    assert sched.stretch == 1.0 and sched.interval_of(web) == 30.0
    assert sched.bus.recent[-1].type == "overhead_restored"
    assert budget.to_dict()["state"] == "within" and budget.to_dict()["since"] is None
    assert len(reported) == 1, "the warning is stored once per episode, not per adjustment"


@pytest.fixture
def keepalive_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "--port", str(port)])
    wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/__conns")[0] == 200,
             what="server up")
    yield port
    kill_tree(proc.pid)


def test_a_tiny_limit_against_many_endpoints(daemon_factory, keepalive_server):
    port = keepalive_server
    services = {f"s{i}": {"baseUrl": f"http://127.0.0.1:{port}", "healthCheckPath": f"/h/s{i}",
                          "interval": 200, "timeoutThreshold": 1000, "critical": i < 5}
                for i in range(40)}
    d = daemon_factory(services_file(services), env={
        "MONITORING_OVERHEAD_LIMIT": "0.001", "SOULFRA_OVERHEAD_SAMPLE_S": "0.3"})
    over = wait_for(lambda: (o := d.get("/api/monitoring/status")[1]["overhead"])["stretch"] > 4
                    and o, timeout=30, what="intervals stretched")
    assert over["state"] == "stretched" and over["limitPercent"] == 0.001
    assert over["stretchedServices"] == 35 and over["criticalServices"] == 5
    # Stored among the daemon's own errors, and on /metrics.
    warning = wait_for(lambda: next((e for e in d.errors()
                                     if e["category"] == "MONITORING_OVERHEAD"), None),
                       what="the overhead warning stored")
    assert "over the limit" in warning["message"] and warning["service"] == "soulfra-supervisor"
    metrics = http("GET", d.url + "/metrics")[1]
    stretch = next(float(line.split()[-1]) for line in metrics.splitlines()
                   if line.startswith("soulfra_overhead_interval_stretch "))
    assert stretch > 4
    # Measured at the server: the critical paths are still asked at their interval, the
    # others far less often.
    before = http("GET", f"http://127.0.0.1:{port}/__hits")[1]
    wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/__hits")[1].get("s0", 0)
             >= before.get("s0", 0) + 10, what="ten more checks of a critical service")
    after = http("GET", f"http://127.0.0.1:{port}/__hits")[1]
    grown = {name: after.get(name, 0) - before.get(name, 0) for name in services}
    critical = min(grown[f"s{i}"] for i in range(5))
    others = max(grown[f"s{i}"] for i in range(5, 40))
    assert critical >= 8 and others <= critical / 2, grown
