"""Email alerts against a real SMTP server (aiosmtpd on a free port): plain, STARTTLS on a
self-signed certificate, implicit TLS, AUTH; threading, both parts, and what the server's
answers (451, 550, 535) make of a delivery."""

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
from tests.support.smtp_server import PASSWORD, SmtpServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    s = SmtpServer(tmp_path).start()
    yield s
    s.stop()


@pytest.fixture
async def store(tmp_path: Path) -> Any:
    s = Store(tmp_path / "alerts.db")
    await s.open()
    yield s
    await s.close()


def email_channel(url: str, **extra: Any) -> Channel:
    cls = registry.get("email")
    spec = {"type": "email", "url": url, "to": ["oncall@example.com", "ops@example.com"],
            "from": "supervisor@example.com", **extra}
    return cls(cls.config_model.model_validate(spec), HttpClient())  # SMTP: HTTP never opened


def incident(kind: str, **kw: Any) -> Alert:
    base: dict[str, Any] = dict(
        service="payments", severity="high", correlation_id="inc_0123abcd", state="recovering",
        category="PROCESS_EXITED", error_type="process_exited", check="process",
        detail="process 4242 was killed by SIGKILL <script>", opened_by="firing",
        link="https://ops.example.com/?service=payments&incident=inc_0123abcd",
        recovery=[{"strategy": "restart_command", "attempt": 1, "ok": False,
                   "message": "exited during startup"}])
    summary = {"firing": "automatic recovery did not fix it",
               "recovered": "healthy again after 2.9 s"}.get(kind, kind)
    base.update(kw)
    return Alert(kind=kind, summary=summary, **base)


async def test_firing_and_recovered_arrive_threaded_with_both_parts(smtp: SmtpServer) -> None:
    ch = email_channel(smtp.url())
    firing = incident("firing")
    recovered = incident("recovered", state="healthy", downtime_ms=2900,
                         fixed_by="restart_command (attempt 2)")
    for a in (firing, recovered):
        answer = await ch.send([a])
        assert answer.ok and answer.status == 250, answer.describe()
    first, second = smtp.received()
    assert first.recipients == ["oncall@example.com", "ops@example.com"]
    assert first.sender == "supervisor@example.com"
    m1, m2 = first.message, second.message
    assert m1["Subject"] == "[FIRING] payments: automatic recovery did not fix it"
    assert m2["Subject"] == "[RECOVERED] payments: healthy again after 2.9 s"
    assert m1["Message-ID"] == "<inc_0123abcd.firing@example.com>"
    assert m2["In-Reply-To"] == m1["Message-ID"] and m2["References"] == m1["Message-ID"]
    assert m2["Message-ID"] != m1["Message-ID"]
    text, page = first.part("plain"), first.part("html")
    assert "restart_command #1: failed - exited during startup" in text
    assert "Category: PROCESS_EXITED (process_exited)" in text
    assert "&lt;script&gt;" in page and "<script>" not in page, "the HTML part is escaped"
    assert 'href="https://ops.example.com/?service=payments&amp;incident=inc_0123abcd"' in page
    assert "Fixed by" in second.part("html") and "restart_command (attempt 2)" in \
        second.part("plain")


async def test_a_batch_makes_one_mail_per_incident(smtp: SmtpServer) -> None:
    ch = email_channel(smtp.url())
    other = incident("firing", service="search", correlation_id="inc_ffff0000")
    answer = await ch.send([incident("firing"), other, incident("recovered")])
    assert answer.ok
    mails = smtp.received()
    assert [m.message["X-Soulfra-Incident"] for m in mails] == ["inc_0123abcd", "inc_ffff0000"]
    assert "(+1 earlier change)" in mails[0].message["Subject"]
    assert mails[0].part("plain").startswith("[RECOVERED]"), "newest first in the body"


async def test_starttls_with_auth_on_a_self_signed_certificate(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path, mode="starttls", auth=True).start()
    try:
        assert server.cert is not None
        ch = email_channel(server.url(auth=True), caFile=str(server.cert))
        answer = await ch.send([incident("firing")])
        assert answer.ok, answer.describe()
        assert len(server.received()) == 1 and server.logins[-1].endswith(":ok")
        # the certificate not trusted: refused for good, saying why
        answer = await email_channel(server.url(auth=True)).send([incident("firing")])
        assert not answer.ok and answer.permanent and "not trusted" in answer.detail
        # a wrong password: 535 is permanent, and the password is nowhere in the answer
        wrong = server.url(auth=True).replace(PASSWORD, "wrong-password")
        answer = await email_channel(wrong, caFile=str(server.cert)).send([incident("firing")])
        assert not answer.ok and answer.permanent and answer.status == 535
        assert "wrong-password" not in answer.describe() and PASSWORD not in answer.describe()
        # plain text refused by a server that requires STARTTLS first
        plain = server.url(auth=True).replace("starttls=true", "starttls=false")
        answer = await email_channel(plain).send([incident("firing")])
        assert not answer.ok and PASSWORD not in answer.describe()
    finally:
        server.stop()
    assert len(server.received()) == 1


async def test_implicit_tls(tmp_path: Path) -> None:
    server = SmtpServer(tmp_path, mode="tls").start()
    try:
        answer = await email_channel(server.url(verify="false")).send([incident("firing")])
        assert answer.ok, answer.describe()
        assert len(server.received()) == 1
    finally:
        server.stop()


def _deliverer(ch: Channel, store: Store) -> Deliverer:
    policy = DeliveryPolicy.model_validate({"initialDelayMs": 200, "maxDelayMs": 1000})
    return Deliverer(ch, Outbox(store), policy, 0.0)


async def test_451_is_retried_and_delivered_once(smtp: SmtpServer, store: Store) -> None:
    ch = email_channel(smtp.url())
    d = _deliverer(ch, store)
    smtp.answer("451 4.7.1 greylisted, try again later")
    alert = incident("firing")
    await d.outbox.add(alert, [ch.name], 0)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: d.health.delivered == 1, 15, 0.05,
                                "delivered after the 451")
        await asyncio.sleep(0.5)
    finally:
        await d.stop()
    assert smtp.attempts == 2 and len(smtp.received()) == 1
    (row,) = await d.outbox.list_alerts(0)
    assert row["status"] == "sent"
    outcomes = [(x["outcome"], x["http_status"]) for x in row["deliveries"]]
    assert outcomes == [("retry", 451), ("delivered", 250)]
    assert "SMTP 451" in row["deliveries"][0]["detail"]


async def test_550_is_reported_and_not_retried(smtp: SmtpServer, store: Store) -> None:
    ch = email_channel(smtp.url())
    d = _deliverer(ch, store)
    smtp.mode = "550 5.1.1 mailbox unavailable"
    await d.outbox.add(incident("firing"), [ch.name], 0)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: d.health.failed == 1, 15, 0.05, "failed")
        await asyncio.sleep(1.0)
    finally:
        await d.stop()
    assert smtp.attempts == 1, "a 550 is not retried"
    assert d.health.failing and "SMTP 550" in d.health.last_error
    (row,) = await d.outbox.list_alerts(0)
    assert row["status"] == "failed" and (await d.outbox.depth()) == {}


async def test_server_down_is_retried_until_it_answers(tmp_path: Path, store: Store) -> None:
    server = SmtpServer(tmp_path)  # not started yet: connection refused
    ch = email_channel(server.url())
    d = _deliverer(ch, store)
    await d.outbox.add(incident("firing"), [ch.name], 0)
    d.start()
    try:
        await asyncio.to_thread(wait_for, lambda: d.health.retries >= 2, 10, 0.05, "retries")
        assert d.health.failing
        server.start()
        await asyncio.to_thread(wait_for, lambda: d.health.delivered == 1, 15, 0.05,
                                "delivered once the server is up")
    finally:
        await d.stop()
        server.stop()
    assert len(server.received()) == 1


def test_email_config_errors_name_the_field() -> None:
    bad = {"errorMonitoring": {"services": {}, "alerts": {"channels": [
        {"type": "email", "url": "http://mail.example.com", "to": ["a@example.com"]},
        {"type": "email", "name": "e2", "url": "smtp://u:topsecret@mail.example.com?tls=1",
         "to": ["a@example.com"]},
        {"type": "email", "name": "e3", "url": "smtp://mail.example.com", "to": ["nobody"]},
        {"type": "email", "name": "e4", "url": "smtp://mail.example.com", "to": []}]}}}
    text = config_problems(bad)
    assert "channels[0].url: must be an smtp:// or smtps:// URL" in text
    assert "channels[1].url: unknown parameter(s) tls" in text
    assert "channels[2].to: 'nobody' is not an email address" in text
    assert "channels[3].to" in text
    assert "topsecret" not in text
