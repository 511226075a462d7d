"""Reports delivered to channels: on its cron, a summary (uptime per service, incidents with
their downtime and what fixed them, mean time to repair, top error groups, the trend against
the period before) reaches each named channel in its own format."""

from __future__ import annotations

import pytest

from tests.support.alert_receiver import slack_problems
from tests.support.alerts import alerts_of, listen, tcp_service
from tests.support.helpers import config_problems, services_file, wait_for


@pytest.mark.timeout(90)
def test_a_report_arrives_on_its_cron_in_each_channels_format(  # noqa: F811
        daemon_factory, receiver, listeners):  # noqa: F811
    port = listen(listeners, "db")
    cfg = services_file({"db": tcp_service(port)})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0,
        "channels": [{"type": "webhook", "name": "hook", "url": receiver.url("webhook"),
                      "minSeverity": "critical", "minIntervalMs": 0},
                     {"type": "slack", "name": "chat", "url": receiver.url("slack"),
                      "minIntervalMs": 0}],
        "reports": [{"channels": ["hook", "chat"], "cron": "*/4 * * * * *",
                     "periodMs": 3600000}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: d.state("db") == "healthy", what="healthy")
    listeners.pop("db").close()
    wait_for(lambda: d.state("db") == "failing", what="failing")
    listen(listeners, "db", port)
    wait_for(lambda: d.state("db") == "healthy", what="healthy again")

    def report_after_the_incident() -> dict | None:
        for a in alerts_of(receiver.of("webhook", True)):
            if a["kind"] == "report" and "db: down" in a["detail"]:
                return a
        return None

    report = wait_for(report_after_the_incident, timeout=20, what="a report on the webhook")
    assert report["severity"] == "info", "sent although the channel's minSeverity is critical"
    assert report["title"].startswith("[REPORT] soulfra-supervisor: report for the last 1 h")
    text = report["detail"]
    assert "1 incident(s)" in text and "mean time to repair" in text
    assert "Uptime per service:\n  db: " in text
    assert "db: down " in text and "fixed by came back by itself" in text
    slack = wait_for(lambda: [r.json for r in receiver.of("slack")
                              if "[REPORT]" in r.json["text"] and "db: down" in r.json["text"]],
                     timeout=20, what="the report on slack")
    assert slack_problems(slack[-1]) == []


def test_report_mistakes_name_the_field() -> None:
    bad = {"errorMonitoring": {"services": {}, "alerts": {
        "channels": [{"type": "webhook", "name": "hook", "url": "http://127.0.0.1:1/a"}],
        "reports": [{"channels": ["hook"], "cron": "every monday"},
                    {"channels": ["nope"]}]}}}
    text = config_problems(bad)
    assert "alerts.reports[0]: cron 'every monday' has 2 fields" in text
    bad["errorMonitoring"]["alerts"]["reports"].pop(0)
    assert "reports[0].channels: no channel 'nope'; known: hook" in config_problems(bad)
