"""Delivery from the outbox to a local receiver: outages, 429/5xx backoff, pacing, grouping,
permanent errors."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from supervisor.alerts.channels.base import Channel
from supervisor.alerts.config import DeliveryPolicy
from supervisor.alerts.delivery import Deliverer
from supervisor.alerts.message import Alert
from supervisor.alerts.outbox import Outbox
from supervisor.store.database import Store
from tests.support.alert_receiver import Receiver
from tests.support.helpers import wait_for

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "alerts.db")
    await s.open()
    yield s
    await s.close()


def _deliverer(ch: Channel, store: Store, window: float = 0.0, **policy: Any) -> Deliverer:
    p = DeliveryPolicy.model_validate({"initialDelayMs": 200, "maxDelayMs": 1000, **policy})
    return Deliverer(ch, Outbox(store), p, window)


async def _queue(outbox: Outbox, channel_name: str, n: int, incidents: int = 3,
                 delay: float = 0.0) -> list[Alert]:
    alerts = []
    for i in range(n):
        a = Alert(kind="firing" if i < incidents else "recovered", service=f"svc{i % incidents}",
                  severity="high", summary=f"message {i}", correlation_id=f"inc_{i % incidents}")
        await outbox.add(a, [channel_name], delay)
        alerts.append(a)
    return alerts


def _delivered_ids(receiver: Receiver, kind: str) -> list[str]:
    ids = []
    for r in receiver.of(kind, acked_only=True):
        ids += [a["id"] for a in r.json["alerts"]] if kind == "webhook" else \
            [e["description"] for e in r.json["embeds"]]
    return ids


async def test_receiver_down_then_back_delivers_each_once_in_order(receiver: Receiver,
                                                                   store: Store,
                                                                   channel) -> None:
    ch = channel("webhook", receiver.url("webhook"), minIntervalMs=0, maxBatch=4)
    d = _deliverer(ch, store)
    receiver.down()
    alerts = await _queue(d.outbox, ch.name, 12)
    d.start()
    try:
        await asyncio.sleep(1.5)  # several refused attempts, backing off
        assert d.health.failing and d.health.retries >= 2
        receiver.up()
        await asyncio.to_thread(wait_for, lambda: len(_delivered_ids(receiver, "webhook")) >= 12,
                                15, 0.1, "all 12 delivered")
        await asyncio.sleep(0.5)
    finally:
        await d.stop()
    ids = _delivered_ids(receiver, "webhook")
    assert sorted(ids) == sorted(a.id for a in alerts) and len(ids) == 12, "each exactly once"
    for inc in ("inc_0", "inc_1", "inc_2"):
        mine = [a.id for a in alerts if a.correlation_id == inc]
        assert [i for i in ids if i in mine] == mine, f"order within {inc}"
    assert not d.health.failing and (await d.outbox.depth()) == {}
    rows = await d.outbox.list_alerts(0)
    assert {r["status"] for r in rows} == {"sent"}


async def test_429_waits_as_told_and_5xx_backs_off(receiver: Receiver,
                                                   store: Store,
                                                   channel) -> None:
    ch = channel("discord", receiver.url("discord"), minIntervalMs=0, maxBatch=1)
    d = _deliverer(ch, store)
    receiver.plan("discord",
                  (429, {"Content-Type": "application/json"}, '{"retry_after": 0.8}'),
                  (503, {}, "unavailable"), (500, {}, "oops"))
    alerts = await _queue(d.outbox, ch.name, 3, incidents=1)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: len(receiver.of("discord", True)) >= 3, 20,
                                0.1, "3 delivered")
    finally:
        await d.stop()
    got = receiver.of("discord")
    assert [r.status for r in got] == [429, 503, 500, 204, 204, 204]
    assert got[1].at - got[0].at >= 0.75, "Retry-After of 0.8 s honoured"
    gaps = [got[2].at - got[1].at, got[3].at - got[2].at]
    assert gaps[1] > gaps[0] * 1.4, f"exponential backoff, gaps {gaps}"
    assert [e["description"] for r in got[3:] for e in r.json["embeds"]] == \
        [a.summary for a in alerts]
    assert not d.health.failing


async def test_pacing_spaces_messages(receiver: Receiver, store: Store, channel) -> None:
    ch = channel("slack", receiver.url("slack"), maxBatch=1)  # default: one a second
    d = _deliverer(ch, store)
    await _queue(d.outbox, ch.name, 3, incidents=3)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: len(receiver.of("slack", True)) >= 3, 20, 0.1,
                                "3 delivered")
    finally:
        await d.stop()
    at = [r.at for r in receiver.of("slack")]
    assert at[1] - at[0] >= 0.95 and at[2] - at[1] >= 0.95


async def test_grouping_window_makes_one_message(receiver: Receiver, store: Store, channel) -> None:
    ch = channel("slack", receiver.url("slack"), minIntervalMs=0)
    d = _deliverer(ch, store, window=1.0)
    d.start()
    try:
        await _queue(d.outbox, ch.name, 5, incidents=5, delay=1.0)
        d.wake()
        await asyncio.to_thread(wait_for, lambda: receiver.of("slack", True), 10, 0.1, "sent")
        await asyncio.sleep(1.5)
    finally:
        await d.stop()
    got = receiver.of("slack")
    assert len(got) == 1, "five changes within the window: one message"
    assert got[0].json["attachments"][0]["blocks"][0]["text"]["text"].startswith("5 alerts")


async def test_permanent_error_stops_and_is_reported(receiver: Receiver,
                                                     store: Store,
                                                     channel) -> None:
    ch = channel("webhook", receiver.url("webhook"), minIntervalMs=0, maxBatch=1)
    d = _deliverer(ch, store)
    receiver.mode("webhook", (404, {}, "no such hook"))
    await _queue(d.outbox, ch.name, 1, incidents=1)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: d.health.failed == 1, 10, 0.05, "failed")
        await asyncio.sleep(1.0)
        assert len(receiver.of("webhook")) == 1, "a 404 is not retried"
        assert d.health.failing and "404" in d.health.last_error
        rows = await d.outbox.list_alerts(0)
        assert rows[0]["status"] == "failed"
        assert rows[0]["deliveries"][0]["outcome"] == "failed"
        receiver.mode("webhook", None)
        await _queue(d.outbox, ch.name, 1, incidents=1)
        d.wake()
        await asyncio.to_thread(wait_for, lambda: d.health.delivered == 1, 10, 0.05, "sent")
        assert not d.health.failing
    finally:
        await d.stop()
    assert json.loads((await d.outbox.list_alerts(0))[0]["alert"])["summary"] == "message 0"
    assert time.time() > 0
