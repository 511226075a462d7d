"""Email from the real daemon (ERROR_EMAIL + SOULFRA_SMTP_URL) to a real SMTP server: firing and
recovered threaded; mail queued while the server greylists survives a SIGKILL; the password
appears nowhere; `alert test email` prints the server's answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alerts import listen, tcp_service
from tests.support.helpers import ROOT, kill_tree, services_file, wait_for
from tests.support.smtp_server import PASSWORD, SmtpServer


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    # STARTTLS on a self-signed certificate, with AUTH (?verify=false: a private relay)
    s = SmtpServer(tmp_path, mode="starttls", auth=True).start()
    yield s
    s.stop()


def mail_env(smtp: SmtpServer) -> dict[str, str]:
    return {"AUTO_RECOVERY_ENABLED": "false", "ERROR_EMAIL": "oncall@example.com, ops@example.com",
            "SOULFRA_SMTP_URL": smtp.url(auth=True, verify="false",
                                        **{"from": "supervisor@example.com"})}


def kinds(smtp: SmtpServer) -> list[str]:
    return [m.message["Subject"].split("]")[0].strip("[") for m in smtp.received()]


@pytest.mark.timeout(120)
def test_firing_recovered_threaded_and_queued_mail_survives_sigkill(daemon_factory, smtp,
                                                                    listeners):  # noqa: F811
    port = listen(listeners, "db")
    cfg = services_file({"db": tcp_service(port)})
    cfg["errorMonitoring"]["alerts"] = {"fireOn": "failing", "groupWindowMs": 0,
                                        "delivery": {"initialDelayMs": 300, "maxDelayMs": 600}}
    d = daemon_factory(cfg, env=mail_env(smtp))
    wait_for(lambda: d.state("db") == "healthy", what="db healthy")
    listeners.pop("db").close()
    wait_for(lambda: kinds(smtp) == ["FIRING"], what="firing mail")
    listen(listeners, "db", port)
    wait_for(lambda: kinds(smtp) == ["FIRING", "RECOVERED"], what="recovered mail")
    firing, recovered = (m.message for m in smtp.received())
    assert recovered["In-Reply-To"] == firing["Message-ID"] == recovered["References"]
    assert firing["X-Soulfra-Incident"] == recovered["X-Soulfra-Incident"]
    assert smtp.received()[0].recipients == ["oncall@example.com", "ops@example.com"]
    assert "Downtime" in smtp.received()[1].part("html")
    assert smtp.received()[1].part("plain").startswith("[RECOVERED] db: healthy again after")

    # the server greylists: the next incident's mail waits in the outbox ...
    smtp.mode = "451 4.7.1 greylisted"
    tried = smtp.attempts
    listeners.pop("db").close()
    wait_for(lambda: smtp.attempts >= tried + 2, what="the firing mail retried")
    status = d.get("/api/monitoring/alerts")[1]
    assert status["outboxDepth"] == 1 and "SMTP 451" in status["lastDeliveryError"]
    assert d.proc is not None
    kill_tree(d.proc.pid)  # ... when the daemon is SIGKILLed
    d.proc.wait()
    smtp.mode = "250 OK"
    d.start()
    wait_for(lambda: kinds(smtp)[2:3] == ["FIRING"], timeout=30,
             what="the queued mail delivered after the restart")
    listen(listeners, "db", port)
    wait_for(lambda: len(smtp.received()) >= 4, timeout=30, what="second recovered")
    ids = [m.message["X-Soulfra-Alert"] for m in smtp.received()]
    assert len(ids) == len(set(ids)), "no mail delivered twice"
    third, fourth = (m.message for m in smtp.received()[2:4])
    assert fourth["In-Reply-To"] == third["Message-ID"] != firing["Message-ID"]

    api = json.dumps(d.get("/api/monitoring/alerts")[1]) + json.dumps(
        d.get("/api/monitoring/status")[1])
    assert PASSWORD not in api and PASSWORD not in d.log()
    assert '"type": "email"' in api or "'type': 'email'" in api or '"email"' in api


@pytest.mark.timeout(60)
def test_alert_test_email_prints_the_servers_answer(smtp, tmp_path):
    config = tmp_path / "services.json"
    config.write_text(json.dumps(services_file({})))
    env = {**os.environ, **mail_env(smtp)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "supervisor", "alert", "test",
                               "--config", str(config), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=30)

    out = run("email")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("email (email): accepted (250)"), out.stdout
    (mail,) = smtp.received()
    assert mail.message["Subject"] == "[TEST] soulfra-supervisor: test message for channel email"
    smtp.mode = "550 5.1.1 mailbox unavailable"
    out = run("email")
    assert out.returncode == 1 and "SMTP 550" in out.stdout and "mailbox unavailable" in \
        out.stdout
    assert PASSWORD not in out.stdout + out.stderr
    env["SOULFRA_SMTP_URL"] = ""
    del env["SOULFRA_SMTP_URL"]
    out = run("email")
    assert out.returncode == 1 and "SOULFRA_SMTP_URL" in out.stderr, out.stderr
