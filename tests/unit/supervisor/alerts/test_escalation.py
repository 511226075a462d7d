"""Escalation policies in-process: who is held back until which step, the clock from the page,
steps that need a severity, and the stored clock read back by a new process (a restart)."""

from __future__ import annotations

from pathlib import Path

from supervisor.alerts.escalation import EscalationPolicy, Escalations
from supervisor.alerts.message import Alert
from supervisor.store.database import Store
from tests.support.helpers import config_problems

POLICY = {"services": ["pay*"], "minSeverity": "high", "steps": [
    {"afterMs": 0, "channels": ["chat"]},
    {"afterMs": 600000, "channels": ["mail"]},
    {"afterMs": 1200000, "channels": ["phone"], "minSeverity": "critical"}]}


def page(severity: str = "critical", service: str = "payments", cid: str = "inc_1") -> Alert:
    return Alert(kind="firing", service=service, severity=severity, summary="is failing",
                 correlation_id=cid, at=1000.0)


async def test_steps_hold_channels_until_due_and_the_clock_survives_a_restart(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    esc = Escalations(store)
    esc.configure([EscalationPolicy.model_validate(POLICY)])
    a = page()
    assert esc.held(a) == {"mail", "phone"}
    assert esc.held(page(service="search")) == set(), "another service: no policy"
    assert esc.held(page(severity="medium")) == set(), "below the policy's severity"
    await esc.begin(a)
    assert esc.due(now=1000.0 + 599) == []
    (row, step), = esc.due(now=1000.0 + 600)
    assert step.channels == ["mail"]
    await esc.advance(row, ["mail"])
    assert esc.held(a) == {"phone"}
    await store.close()

    store = Store(tmp_path / "s.db")  # a new daemon process reads the same clock
    await store.open()
    again = Escalations(store)
    again.configure([EscalationPolicy.model_validate(POLICY)])
    await again.load()
    assert again.held(a) == {"phone"}
    (row, step), = again.due(now=1000.0 + 1200)
    assert step.channels == ["phone"] and row["started_at"] == 1000.0
    await again.stop("inc_1", "acknowledged")
    assert again.due(now=1000.0 + 5000) == [], "no step after an acknowledgement"
    assert again.to_api("inc_1")["stopped"] == "acknowledged"
    await again.finish("inc_1", "recovered")
    assert again.to_api("inc_1") is None
    await store.close()


async def test_a_step_with_minseverity_is_not_reached_by_a_high_incident(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    esc = Escalations(store)
    esc.configure([EscalationPolicy.model_validate(POLICY)])
    a = page(severity="high")
    await esc.begin(a)
    row = esc.rows["inc_1"]
    assert row["reached"] == ["chat"]
    await esc.advance(row, ["mail"])
    (row, step), = esc.due(now=1000.0 + 1200)
    from supervisor.alerts.escalation import step_applies

    assert not step_applies(step, "high") and step_applies(step, "critical")
    await store.close()


def test_escalation_mistakes_name_the_field() -> None:
    bad = {"errorMonitoring": {"services": {}, "alerts": {
        "channels": [{"type": "webhook", "name": "chat", "url": "http://127.0.0.1:1/a"}],
        "escalation": [{"steps": [{"afterMs": 600000, "channels": ["chat"]},
                                  {"afterMs": 0, "channels": ["chat"]}]},
                       {"steps": [{"afterMs": 0, "channels": ["emial"]}]}]}}}
    text = config_problems(bad)
    assert "alerts.escalation[0].steps: steps must be in the order of their afterMs" in text
    bad["errorMonitoring"]["alerts"]["escalation"].pop(0)
    assert "escalation[0].steps[0].channels: no channel 'emial'; known: chat" in \
        config_problems(bad)
