"""The alert of one message about an incident (firing, gave_up, reminder, recovered,
self_healed): the incident's classification, attempts and outcome, its links, redacted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from supervisor.alerts.incident import Incident
from supervisor.alerts.message import Alert
from supervisor.core.redaction import redact

ACKABLE = ("firing", "gave_up", "reminder")  # messages that carry an acknowledgement link


def incident_alert(inc: Incident, kind: str, summary: str, *, link: str,
                   ack_link: Callable[[str], str], event_at: float | None = None,
                   severity: str | None = None, **extra: Any) -> Alert:
    """`ack_link` makes the incident's acknowledgement link; asked only for ACKABLE kinds."""
    alert = Alert(kind=kind, service=inc.service, severity=severity or inc.severity,
                  summary=summary, correlation_id=inc.id or None, state=inc.state,
                  category=inc.category, error_type=inc.error_type, check=inc.check,
                  detail=inc.detail, recovery=list(inc.attempts), outcome=inc.outcome,
                  affected=list(inc.affected), link=link,
                  event_at=event_at, opened_by=inc.opened_by,
                  ack_link=ack_link(inc.id) if kind in ACKABLE else "", **extra)
    if kind == "recovered":  # the attempts were in the firing message already
        alert.recovery = [a for a in inc.attempts if a.get("ok")][-1:]
    return Alert.from_dict(redact(alert.to_dict()))


def fixed_by(inc: Incident) -> str:
    """What ended the incident, as its closing message says it."""
    ok = [a for a in inc.attempts if a.get("ok")]
    if ok:
        return f"{ok[-1].get('strategy')} (attempt {ok[-1].get('attempt')})"
    if inc.attempts or inc.outcome:
        return "came back by itself after the recovery attempts"
    return "came back by itself (no action taken)"
