"""State transitions from check results: thresholds, and the events they publish."""

from __future__ import annotations

import asyncio

from health_checks.base import CheckKind, CheckResult
from supervisor.core.events import EventBus
from supervisor.core.state import State, StateTracker, Thresholds


def _result(kind: CheckKind) -> CheckResult:
    return CheckResult(kind=kind, message=str(kind), check="c", check_type="http")


async def test_thresholds_make_transitions_and_publish_them():
    bus = EventBus()
    seen = []

    async def collect(ev):
        seen.append((ev.data["previous"], ev.data["state"]))

    bus.subscribe("t", collect, types={"state_changed"})
    tracker = StateTracker(bus)
    tracker.add("s", Thresholds(errors=3, successes=2))
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    for _ in range(2):
        tracker.record("s", [_result(CheckKind.STALLED)])
    assert tracker.get("s").state is State.HEALTHY, "two blips are below the threshold"
    tracker.record("s", [_result(CheckKind.STALLED)])
    assert tracker.get("s").state is State.FAILING and tracker.get("s").correlation_id
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    assert tracker.get("s").state is State.FAILING, "success threshold is 2"
    tracker.record("s", [_result(CheckKind.HEALTHY)])
    assert tracker.get("s").state is State.HEALTHY
    tracker.record("s", [_result(CheckKind.CHECK_ERROR)])
    assert tracker.get("s").state is State.HEALTHY, "our own bug is not the service's failure"
    for _ in range(3):
        tracker.record("s", [_result(CheckKind.DEGRADED)])
    assert tracker.get("s").state is State.DEGRADED
    await asyncio.sleep(0.05)
    assert seen == [("unknown", "healthy"), ("healthy", "failing"), ("failing", "healthy"),
                    ("healthy", "degraded")]
    await bus.drain()
