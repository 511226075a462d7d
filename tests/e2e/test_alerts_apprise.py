"""Apprise and phone channels from the real daemon: a critical failure reaches ntfy, Telegram
(through the test's proxy) and the phone; the recovery reaches the chats but not the phone;
no secret reaches the log, the API or the store; `alert test` works for each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alerts import listen, tcp_service
from tests.support.helpers import ROOT, services_file, wait_for
from tests.support.service_receivers import BOT, ConnectProxy, ServiceReceiver, make_test_ca, urls


@pytest.fixture
def services(tmp_path: Path) -> Iterator[ServiceReceiver]:
    bundle, cert, key = make_test_ca(tmp_path)
    r = ServiceReceiver(tls=(cert, key)).start()
    proxy = ConnectProxy(r.tls_port).start()
    r.env = {"HTTPS_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost",  # type: ignore
             "REQUESTS_CA_BUNDLE": str(bundle)}
    yield r
    proxy.stop()
    r.stop()


def config(r: ServiceReceiver, port: int) -> dict:
    u = urls(r)
    cfg = services_file({"api": tcp_service(port, critical=True)})
    cfg["errorMonitoring"]["alerts"] = {"groupWindowMs": 0, "channels": [
        {"type": "apprise", "name": "ntfy", "url": u["ntfy"], "minSeverity": "info"},
        {"type": "apprise", "name": "telegram", "url": u["telegram"]}]}
    return cfg


def env(r: ServiceReceiver) -> dict[str, str]:
    return {**r.env, "AUTO_RECOVERY_ENABLED": "false",  # type: ignore[attr-defined]
            "CRITICAL_ERROR_PHONE": "+15551234567",
            "SOULFRA_PHONE_URL": urls(r)["sms"]}


@pytest.mark.timeout(90)
def test_critical_failure_reaches_chats_and_phone_and_secrets_stay_out(daemon_factory, services,
                                                                       listeners):  # noqa: F811
    port = listen(listeners, "api")
    d = daemon_factory(config(services, port), env=env(services))
    wait_for(lambda: d.state("api") == "healthy", what="api healthy")
    listeners.pop("api").close()
    wait_for(lambda: services.of("ntfy") and services.of("telegram") and services.of("sms"),
             what="firing on ntfy, telegram and the phone")
    listen(listeners, "api", port)
    wait_for(lambda: len(services.of("ntfy")) >= 2 and len(services.of("telegram")) >= 2,
             what="recovered on both chats")
    assert services.of("ntfy")[0].json["title"].startswith("[FIRING] api")
    assert services.of("ntfy")[1].json["title"].startswith("[RECOVERED] api")
    assert "[RECOVERED] api" in services.of("telegram")[1].json["text"]
    (sms,) = services.of("sms")
    assert sms.path == "/sms/+15551234567" and sms.json["message"].startswith("[FIRING] api")
    listing = d.get("/api/monitoring/alerts")[1]
    assert {c: v["status"] for c, v in listing["channels"].items()} == {
        "ntfy": "ok", "telegram": "ok", "phone": "ok"}
    secrets = [BOT, "alerts-topic-7f3k", "+15551234567".lstrip("+")]
    api = json.dumps(listing) + json.dumps(d.get("/api/monitoring/status")[1])
    assert not [s for s in secrets[:2] if s in api]
    assert not [s for s in secrets[:2] if s in d.log()]
    d.stop()
    stored = b"".join(p.read_bytes() for p in (d.data_dir).glob("supervisor.db*"))
    assert not [s for s in secrets[:2] if s.encode() in stored]


@pytest.mark.timeout(60)
def test_alert_test_works_for_apprise_and_phone(services, tmp_path):
    path = tmp_path / "services.json"
    path.write_text(json.dumps(config(services, 1)))
    run_env = {**os.environ, **env(services)}

    def run(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "supervisor", "alert", "test", "--config",
                               str(path), name], cwd=ROOT, env=run_env, capture_output=True,
                              text=True, timeout=30)

    for name, kind in (("ntfy", "ntfy"), ("telegram", "telegram"), ("phone", "sms")):
        out = run(name)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.startswith(f"{name} ({'phone' if name == 'phone' else 'apprise'}): "
                                     "accepted"), out.stdout
        assert "[TEST]" in json.dumps(services.of(kind)[-1].json)
        assert BOT not in out.stdout + out.stderr
