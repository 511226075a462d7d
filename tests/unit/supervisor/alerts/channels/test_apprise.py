"""Apprise channels and the phone channel against local receivers that answer like ntfy,
Telegram, PagerDuty Events v2, Microsoft Teams workflows and an SMS gateway: the payload each
receives, what their answers (429, 5xx, 4xx) make of a delivery, and secrets kept out."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Channel
from supervisor.alerts.config import DeliveryPolicy
from supervisor.alerts.delivery import Deliverer
from supervisor.alerts.message import Alert
from supervisor.alerts.outbox import Outbox
from supervisor.clients.http import HttpClient
from supervisor.store.database import Store
from tests.support.helpers import config_problems, wait_for
from tests.support.service_receivers import (
    BOT,
    NTFY_429,
    PAGERDUTY_400,
    PD_KEY,
    SIG,
    TEAMS_502,
    TELEGRAM_401,
    TELEGRAM_429,
    ConnectProxy,
    ServiceReceiver,
    make_test_ca,
    urls,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_test_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def services(ca: tuple[Path, Path, Path],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceReceiver]:
    """The receiver, reached directly on 127.0.0.1 and through the proxy for the two
    services whose Apprise plugins have a fixed host."""
    bundle, cert, key = ca
    r = ServiceReceiver(tls=(cert, key)).start()
    proxy = ConnectProxy(r.tls_port).start()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    r.proxy = proxy  # type: ignore[attr-defined]
    yield r
    proxy.stop()
    r.stop()




def apprise_channel(url: str, kind: str = "apprise", **extra: Any) -> Channel:
    cls = registry.get(kind)
    # Apprise sends on its own; the daemon's HTTP client is never opened here.
    return cls(cls.config_model.model_validate({"type": kind, "url": url, **extra}), HttpClient())


def firing(**kw: Any) -> Alert:
    base: dict[str, Any] = dict(
        kind="firing", service="payments", severity="critical",
        summary="automatic recovery did not fix it", correlation_id="inc_0123abcd",
        state="recovering", category="PROCESS_EXITED", error_type="process_exited",
        check="process", detail="process 4242 was killed by SIGKILL",
        recovery=[{"strategy": "restart_command", "attempt": 1, "ok": False,
                   "message": "exited during startup"}])
    base.update(kw)
    return Alert(**base)


async def test_each_service_receives_its_own_payload(services: ServiceReceiver) -> None:
    u = urls(services)
    for kind in ("ntfy", "telegram", "pagerduty", "teams"):
        answer = await apprise_channel(u[kind]).send([firing()])
        assert answer.ok, (kind, answer.describe())
    ntfy = services.of("ntfy")[0].json
    assert ntfy["topic"] == "alerts-topic-7f3k"
    assert ntfy["title"] == "[FIRING] payments: automatic recovery did not fix it"
    assert "restart_command #1: failed" in ntfy["message"]
    tg = services.of("telegram")[0]
    assert tg.path == f"/bot{BOT}/sendMessage" and str(tg.json["chat_id"]) == "98765"
    assert "[FIRING] payments" in tg.json["text"]
    pd = services.of("pagerduty")[0].json
    assert pd["routing_key"] == PD_KEY and pd["event_action"] == "trigger"
    assert pd["payload"]["summary"].startswith("[FIRING] payments")
    teams = services.of("teams")[0]
    assert teams.path.endswith("/triggers/manual/paths/invoke") and f"sig={SIG}" in teams.query
    card = teams.json["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert "[FIRING] payments" in str(card["body"])
    assert sorted(set(services.proxy.tunnels)) == ["api.telegram.org",  # type: ignore[attr-defined]
                                                   "events.pagerduty.com"]


async def test_the_services_answers_decide_retry_or_give_up(services: ServiceReceiver) -> None:
    u = urls(services)
    cases = [("ntfy", NTFY_429, 429, False), ("telegram", TELEGRAM_429, 429, False),
             ("teams", TEAMS_502, 502, False), ("telegram", TELEGRAM_401, 401, True),
             ("pagerduty", PAGERDUTY_400, 400, True)]
    for kind, reply, status, permanent in cases:
        services.plan(kind, reply)
        answer = await apprise_channel(u[kind]).send([firing()])
        assert (answer.ok, answer.status, answer.permanent) == (False, status, permanent), \
            (kind, answer.describe())
        for secret in (BOT, PD_KEY, SIG, "alerts-topic-7f3k", "apikey-secret-123"):
            assert secret not in answer.describe(), (kind, answer.describe())
    services.down()
    answer = await apprise_channel(u["ntfy"]).send([firing()])
    assert not answer.ok and answer.status is None and not answer.permanent
    assert "alerts-topic-7f3k" not in answer.describe()


def _deliverer(ch: Channel, store: Store) -> Deliverer:
    policy = DeliveryPolicy.model_validate({"initialDelayMs": 200, "maxDelayMs": 1000})
    return Deliverer(ch, Outbox(store), policy, 0.0)


async def test_429_then_accepted_is_delivered_once_and_401_gives_up(
        services: ServiceReceiver, tmp_path: Path) -> None:
    store = Store(tmp_path / "alerts.db")
    await store.open()
    u = urls(services)
    ntfy = _deliverer(apprise_channel(u["ntfy"], name="ntfy"), store)
    tg = _deliverer(apprise_channel(u["telegram"], name="tg"), store)
    services.plan("ntfy", NTFY_429)
    services.mode("telegram", TELEGRAM_401)
    await ntfy.outbox.add(firing(), ["ntfy", "tg"], 0)
    ntfy.start()
    tg.start()
    try:
        await asyncio.to_thread(wait_for, lambda: ntfy.health.delivered == 1 and
                                tg.health.failed == 1, 20, 0.05, "delivered and given up")
        await asyncio.sleep(1.0)
    finally:
        await ntfy.stop()
        await tg.stop()
    assert [r.status for r in services.of("ntfy")] == [429, 200]
    assert len(services.of("telegram")) == 1, "a 401 is not retried"
    assert tg.health.failing and "401" in tg.health.last_error
    (row,) = await ntfy.outbox.list_alerts(0)
    assert row["status"] == "failed"  # delivered to ntfy, refused for good by Telegram
    assert {(d["channel"], d["outcome"]) for d in row["deliveries"]} == {
        ("ntfy", "retry"), ("ntfy", "delivered"), ("tg", "failed")}
    stored = (tmp_path / "alerts.db").read_bytes()
    await store.close()
    assert BOT.encode() not in stored and b"alerts-topic-7f3k" not in stored


async def test_phone_gets_only_critical_pages_and_is_rate_limited(
        services: ServiceReceiver) -> None:
    ch = apprise_channel(urls(services)["sms"], "phone", number="+1 (555) 123-4567",
                         maxPerHour=2)
    wants = ch.config.wants
    assert wants(firing()) and wants(firing(kind="gave_up"))
    assert not wants(firing(kind="reminder")) and not wants(firing(kind="recovered"))
    assert not wants(firing(severity="high"))
    for _ in range(3):
        answer = await ch.send([firing(ack_link="https://ops.example.com/ack/abc")])
        assert answer.ok
    sent = services.of("sms")
    assert len(sent) == 2 and sent[0].path == "/sms/+15551234567"
    text = sent[0].json["message"]
    assert text.startswith("[FIRING] payments: automatic recovery did not fix it")
    assert "incident inc_0123abcd" in text and "ack: https://ops.example.com/ack/abc" in text
    assert len(text) <= 320
    assert "not sent to …4567" in answer.detail and "maxPerHour" in answer.detail


def test_apprise_and_phone_config_errors_name_the_field() -> None:
    bad = {"errorMonitoring": {"services": {}, "alerts": {"channels": [
        {"type": "apprise", "url": "nosuch://token-abc/123"},
        {"type": "apprise", "name": "t", "url": "tgram://not-a-token"},
        {"type": "phone", "url": "json://127.0.0.1:1/sms", "number": "+15551234567"},
        {"type": "phone", "name": "p2", "url": "json://127.0.0.1:1/{phone}", "number": "call me"},
    ]}}}
    text = config_problems(bad)
    assert "channels[0].url: Apprise knows no service nosuch://" in text
    assert "channels[1].url: Apprise cannot use this tgram:// URL" in text
    assert "channels[2].url: must contain {phone}" in text
    assert "channels[3].number: must be a phone number in E.164 form" in text
    assert "token-abc" not in text and "not-a-token" not in text


def test_a_phone_channel_takes_min_severity_as_written_in_services_json() -> None:
    from supervisor.config.loader import parse_config

    config = parse_config({"errorMonitoring": {"services": {}, "alerts": {"channels": [
        {"type": "phone", "url": "json://127.0.0.1:1/{phone}", "number": "+15551234567",
         "minSeverity": "high"}]}}})
    assert config.error_monitoring.alerts.channels[0].min_severity == "high"
