"""Notices of errors the services reported themselves (supervisor/ingest/notices.py publishes
them): a new error group, one that came back after it was resolved, a spike. Each is a single
message, not an incident: nothing opens, nothing recovers."""

from __future__ import annotations

from collections.abc import Callable

from supervisor.alerts.message import Alert
from supervisor.core.events import Event
from supervisor.core.redaction import redact

NOTICE_EVENTS = frozenset({"error_group_new", "error_group_regressed", "error_spike"})
NOTICES = ("new_error", "regression", "error_spike")  # the kinds of their messages


def error_notice(e: Event, link: Callable[[str, str], str]) -> Alert:
    """The notice of one of NOTICE_EVENTS; `link(service, fingerprint)` points at the error."""
    d = e.data
    severity: str | None = None
    if e.type == "error_group_new":
        kind, summary = "new_error", f"new error: {d.get('message', '')}"
    elif e.type == "error_group_regressed":
        kind = "regression"
        summary = f"came back after it was resolved: {d.get('message', '')}"
    else:
        kind, severity = "error_spike", "high"
        summary = (f"{d.get('count')} errors in the last {d.get('windowS', 60):g} s "
                   f"({d.get('unhandled')} unhandled)")
    where = f" at {d['frame']}" if d.get("frame") else ""
    detail = f"{d.get('message', '')}{where}"
    if kind == "error_spike" and d.get("topCount"):
        detail = f"most: {detail} ({d['topCount']}×)"
    if d.get("release"):
        detail += f" (release {d['release']})"
    alert = Alert(kind=kind, service=e.service or "", summary=summary[:300],
                  severity=severity or str(d.get("severity", "medium")),
                  category=str(d.get("category") or ""),
                  error_type=str(d.get("errorType") or ""),
                  detail=detail[:1500], event_at=e.at,
                  link=link(e.service or "", str(d.get("fingerprint") or "")))
    return Alert.from_dict(redact(alert.to_dict()))
