"""Channels and delivery in-process against the local receiver: native payloads within each
platform's limits, the platforms' answers read right, retries, pacing, permanent errors."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Channel
from supervisor.alerts.config import DeliveryPolicy, infer_kind
from supervisor.alerts.delivery import Deliverer
from supervisor.alerts.message import Alert
from supervisor.alerts.outbox import Outbox
from supervisor.clients.http import HttpClient
from supervisor.store.database import Store
from tests.alert_receiver import Receiver, discord_problems, slack_problems
from tests.helpers import wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
async def http() -> Any:
    """The HTTP client a daemon would hand its channels; each test has its own."""
    client = HttpClient()
    yield client
    await client.close()


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "alerts.db")
    await s.open()
    yield s
    await s.close()


@pytest.fixture
def channel(http: HttpClient) -> Any:
    def build(kind: str, url: str, **extra: Any) -> Channel:
        cls = registry.get(kind)
        return cls(cls.config_model.model_validate({"type": kind, "url": url, **extra}), http)
    return build


def big_alert(i: int = 0, kind: str = "firing", incident: str = "inc_big") -> Alert:
    return Alert(kind=kind, service=f"payments-api-{i}-" + "x" * 300, severity="critical",
                 summary="automatic recovery did not fix it " + "y" * 500,
                 correlation_id=incident, state="recovering", category="SERVICE_UNAVAILABLE",
                 error_type="connection_refused", check="health",
                 detail="GET /health refused <&> " + "z" * 9000,
                 recovery=[{"strategy": "restart_command", "attempt": n, "ok": False,
                            "message": "process exited during startup " + "w" * 400}
                           for n in range(30)],
                 outcome="recovery failed after 30 attempt(s)", downtime_ms=93_000,
                 affected=[f"dependent-{n}" for n in range(60)],
                 link="https://ops.example.com/?service=payments")


async def test_slack_payload_stays_within_limits_and_reads_well(receiver: Receiver,
                                                                channel) -> None:
    ch = channel("slack", receiver.url("slack"), mention="<!here>")
    for alerts in ([big_alert()], [big_alert(i, incident=f"inc_{i}") for i in range(10)]):
        answer = await ch.send(alerts)
        assert answer.ok, answer
        payload = receiver.of("slack")[-1].json
        assert slack_problems(payload) == []
        assert payload["text"].startswith("<!here> [FIRING] payments-api-0")
        assert payload["attachments"][0]["color"] == "#d32f2f"
    single = receiver.of("slack")[0].json["attachments"][0]["blocks"]
    assert single[0]["text"]["text"].endswith("…"), "a cut title says it was cut"
    assert "&lt;&amp;&gt;" in single[1]["text"]["text"], "mrkdwn control characters escaped"
    assert any(b["type"] == "actions" for b in single), "dashboard button with a public URL"


async def test_discord_payload_stays_within_limits(receiver: Receiver, channel) -> None:
    ch = channel("discord", receiver.url("discord"), mention="@here")
    for alerts in ([big_alert()], [big_alert(i, incident=f"inc_{i}") for i in range(10)]):
        assert (await ch.send(alerts)).ok
        payload = receiver.of("discord")[-1].json
        assert discord_problems(payload) == []
        assert payload["content"].startswith("@here")
        assert len(payload["embeds"]) == len(alerts)
    embed = receiver.of("discord")[0].json["embeds"][0]
    assert embed["color"] == 0xD32F2F and embed["title"].endswith("…")
    names = [f["name"] for f in embed["fields"]]
    assert names[:3] == ["Service", "State", "Severity"] and "Recovery" in names


async def test_webhook_is_signed_with_custom_headers(receiver: Receiver, channel) -> None:
    ch = channel("webhook", receiver.url("webhook"), secret="s3cret-key",
                 headers={"X-Api-Key": "key-123"})
    alert = big_alert()
    assert (await ch.send([alert])).ok
    got = receiver.of("webhook")[-1]
    expected = "sha256=" + hmac.new(b"s3cret-key", got.raw, hashlib.sha256).hexdigest()
    assert got.headers["X-Soulfra-Signature"] == expected
    assert got.headers["X-Api-Key"] == "key-123"
    assert got.headers["X-Soulfra-Delivery"] == alert.id
    body = got.json
    assert body["alerts"][0]["correlationId"] == "inc_big"
    assert body["alerts"][0]["downtimeMs"] == 93_000 and body["severity"] == "critical"
    assert b"s3cret-key" not in got.raw


async def test_a_batch_delivery_id_is_alert_shaped_and_stable(receiver: Receiver, channel) -> None:
    ch = channel("webhook", receiver.url("webhook"))
    batch = [big_alert(i, incident=f"inc_{i}") for i in range(3)]
    assert (await ch.send(batch)).ok
    assert (await ch.send(list(reversed(batch)))).ok  # the same batch, retried
    first, again = (r.headers["X-Soulfra-Delivery"] for r in receiver.of("webhook")[-2:])
    assert re.fullmatch(r"AL_[0-9a-f]{10}", first), first
    assert first == again and first not in {a.id for a in batch}
    assert (await ch.send(batch[:2])).ok  # another batch: another id
    assert receiver.of("webhook")[-1].headers["X-Soulfra-Delivery"] != first


async def test_platform_answers_are_read_as_documented(receiver: Receiver, channel) -> None:
    slack = channel("slack", receiver.url("slack"))
    discord = channel("discord", receiver.url("discord"))
    a = [big_alert()]
    receiver.plan("slack", (429, {"Retry-After": "2"}, "rate_limited"))
    answer = await slack.send(a)
    assert (answer.ok, answer.status, answer.retry_after, answer.permanent) == \
        (False, 429, 2.0, False)
    # blocks refused: the words still go out, as plain text
    receiver.plan("slack", (400, {}, "invalid_blocks"))
    answer = await slack.send(a)
    assert answer.ok and "plain text" in answer.detail
    last = receiver.of("slack")[-1].json
    assert set(last) == {"text"} and "payments-api-0" in last["text"]
    receiver.plan("slack", (404, {}, "no_service"))
    answer = await slack.send(a)
    assert not answer.ok and answer.permanent and "no_service" in answer.describe()
    receiver.plan("discord", (429, {"Content-Type": "application/json"},
                              '{"message": "You are being rate limited.", "retry_after": 0.35,'
                              ' "global": false}'))
    answer = await discord.send(a)
    assert answer.retry_after == 0.35 and not answer.permanent
    receiver.plan("discord", (502, {}, "bad gateway"))
    answer = await discord.send(a)
    assert not answer.ok and not answer.permanent
    receiver.plan("discord", (400, {"Content-Type": "application/json"},
                              '{"code": 50035, "message": "Invalid Form Body"}'))
    answer = await discord.send(a)
    assert answer.permanent and "Invalid Form Body" in answer.describe()
    assert (await discord.send(a)).status == 204
    receiver.down()
    answer = await discord.send(a)
    assert answer.status is None and not answer.permanent
    assert "discordsecrettoken" not in answer.describe()


def test_kind_is_inferred_from_the_url() -> None:
    assert infer_kind("https://hooks.slack.com/services/T1/B2/abc") == "slack"
    assert infer_kind("https://discord.com/api/webhooks/1/abc") == "discord"
    assert infer_kind("https://discordapp.com/api/webhooks/1/abc") == "discord"
    assert infer_kind("https://example.com/alerts") == "webhook"


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
                                                                   store: Store, channel) -> None:
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


async def test_429_waits_as_told_and_5xx_backs_off(receiver: Receiver, store: Store,
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


async def test_permanent_error_stops_and_is_reported(receiver: Receiver, store: Store,
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


def test_alerts_config_errors_name_the_field() -> None:
    from supervisor.config.services import ConfigError, parse_config

    bad = {"errorMonitoring": {"services": {}, "alerts": {
        "fireOn": "sometimes",
        "channels": [{"type": "slack", "url": "hooks.slack.com/x"},
                     {"type": "discord", "url": "https://discord.com/api/webhooks/1/a",
                      "minSeverity": "urgent"},
                     {"type": "teams", "url": "https://example.com"}],
        "silences": [{"matchers": {"service": "a"}, "start": "2026-01-02T00:00:00Z",
                      "end": "2026-01-01T00:00:00Z"}]}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(bad)
    text = "\n".join(exc.value.problems)
    assert "errorMonitoring.alerts.fireOn" in text
    assert "errorMonitoring.alerts.channels[0].url: must be an http:// or https:// URL" in text
    assert "errorMonitoring.alerts.channels[1].minSeverity" in text
    assert "errorMonitoring.alerts.channels[2]: unknown type 'teams'" in text
    assert "errorMonitoring.alerts.silences[0]: end must be after start" in text
    dup = {"errorMonitoring": {"services": {}, "alerts": {"channels": [
        {"type": "webhook", "url": "http://127.0.0.1:1/a"},
        {"type": "webhook", "url": "http://127.0.0.1:1/b"}]}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(dup)
    assert "already used by channels[0]" in exc.value.problems[0]
