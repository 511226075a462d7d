"""What the alerter knows of one open incident, and how that record is made: from the event
that opened it (classified from its failed check) or, after a restart, from the messages the
outbox already sent about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supervisor.alerts.message import Alert
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.events import Event
from supervisor.core.redaction import redact_text
from supervisor.core.state import ServiceState
from supervisor.core.taxonomy import classify_result


@dataclass
class Incident:
    id: str
    service: str
    started: float
    severity: str = "medium"
    category: str = ""
    error_type: str = ""
    check: str = ""
    detail: str = ""
    state: str = "failing"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = ""
    fired: bool = False
    folded_into: str | None = None
    affected: list[str] = field(default_factory=list)
    recovering: bool = False
    fire_deadline: float = 0.0
    pending_close: dict[str, Any] | None = None
    close_deadline: float = 0.0
    last_sent: float = 0.0
    opened_by: str = ""  # firing or gave_up: the message later ones thread under
    paged_by: str = ""  # another cluster node that sent this incident's "firing"


def opened_incident(e: Event, st: ServiceState | None) -> Incident:
    """The incident an event opens: the failed check it carries (else the service's last
    failure), classified; started when the service's incident did."""
    result = e.data.get("result") or {}
    if not result and st is not None and st.last_failure is not None:
        result = st.last_failure.to_dict()
    c = classify_result(_result(result), critical_service=bool(st and st.critical))
    started = st.incident_started if st and st.incident_started else e.at
    return Incident(id=e.correlation_id or "", service=e.service or "", started=started,
                    severity=str(c.severity), category=str(c.category), error_type=c.type,
                    check=str(result.get("check", "")),
                    detail=redact_text(str(result.get("message") or e.data.get("reason", "")))
                    [:1500], state=str(e.data.get("state", "failing")))


def resumed_incident(cid: str, st: ServiceState, sent: list[Alert]) -> Incident | None:
    """After a restart, a still-open incident somebody was paged about, rebuilt from the
    messages sent about it; None when nobody was paged."""
    paged = [a for a in sent if a.kind in ("firing", "gave_up")]
    if not paged:
        return None
    first = paged[0]
    return Incident(
        id=cid, service=st.name, started=st.incident_started or first.at,
        severity=first.severity, category=first.category, error_type=first.error_type,
        check=first.check, detail=first.detail, state=str(st.state),
        attempts=list(paged[-1].recovery), outcome=paged[-1].outcome, fired=True,
        affected=list(first.affected), last_sent=sent[-1].at, opened_by=first.kind)


def attempt_record(d: dict[str, Any]) -> dict[str, Any]:
    """One recovery attempt as the incident's messages list it (its message redacted)."""
    return {"strategy": d.get("strategy"), "attempt": d.get("attempt"), "ok": bool(d.get("ok")),
            "message": redact_text(str(d.get("message", "")))[:500]}


def _result(d: dict[str, Any]) -> CheckResult:
    try:
        kind = CheckKind(d.get("kind", "unhealthy"))
    except ValueError:
        kind = CheckKind.UNHEALTHY
    return CheckResult(kind=kind, message=str(d.get("message", "")), check=str(d.get("check", "")),
                       check_type=str(d.get("type", "")), details=dict(d.get("details") or {}))
