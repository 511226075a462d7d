"""Quiet hours per channel: inside them only critical alerts go out; the others are held (in
the outbox, not lost) until they end, and a held alert does not block a critical one."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supervisor.alerts.channels import registry
from supervisor.alerts.config import DeliveryPolicy
from supervisor.alerts.delivery import Deliverer
from supervisor.alerts.message import Alert
from supervisor.alerts.outbox import Outbox
from supervisor.alerts.service import quiet_holds
from supervisor.clients.http import HttpClient
from supervisor.store.database import Store
from tests.support.alert_receiver import Receiver
from tests.support.helpers import wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def http() -> Any:
    """The HTTP client a daemon would hand its channels; each test has its own."""
    client = HttpClient()
    yield client
    await client.close()


async def test_quiet_hours_hold_non_critical_alerts_until_they_end(tmp_path: Path,
                                                                    http: HttpClient) -> None:
    receiver = Receiver().start()
    store = Store(tmp_path / "q.db")
    await store.open()
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    cls = registry.get("webhook")
    ch = cls(cls.config_model.model_validate({
        "type": "webhook", "name": "night", "url": receiver.url("webhook"),
        "minIntervalMs": 0, "quietHours": {
            "cron": f"{began.second} {began.minute} {began.hour} * * *", "timezone": "UTC",
            "durationMs": 4000}}), http)
    quiet_until = ch.config.quiet_hours.until(time.time())
    assert quiet_until == pytest.approx(began.timestamp() + 4)
    outbox = Outbox(store)
    d = Deliverer(ch, outbox, DeliveryPolicy.model_validate({"initialDelayMs": 200}), 0.0)
    high = Alert(kind="firing", service="batch", severity="high", summary="held")
    critical = Alert(kind="gave_up", service="db", severity="critical", summary="now")
    for a in (high, critical):
        await outbox.add(a, ["night"], 0,
                         holds=quiet_holds({"night": ch}, a, ["night"], time.time()))
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: receiver.of("webhook"), 10, 0.05, "critical")
        first = receiver.of("webhook")[0]
        assert [a["summary"] for a in first.json["alerts"]] == ["now"]
        assert first.at < quiet_until, "critical passes the held alert during quiet hours"
        await asyncio.to_thread(wait_for, lambda: len(receiver.of("webhook")) >= 2, 15, 0.05,
                                "the held alert after the quiet hours")
    finally:
        await d.stop()
        await store.close()
        receiver.stop()
    second = receiver.of("webhook")[1]
    assert [a["summary"] for a in second.json["alerts"]] == ["held"]
    assert second.at >= quiet_until - 0.05
