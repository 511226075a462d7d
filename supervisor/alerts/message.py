"""The alert itself, before any channel formats it: what failed, how it was classified, what
recovery tried, and how it ended. Channels only render it; they never decide anything."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from supervisor.core.taxonomy import Severity

SEVERITY_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3,
                 Severity.CRITICAL: 4}

# kind -> (word in titles, colour); the colour is the same bar in Slack and Discord
KINDS: dict[str, tuple[str, int]] = {
    "firing": ("FIRING", 0xD32F2F),
    "gave_up": ("GAVE UP", 0x7B1FA2),
    "reminder": ("STILL DOWN", 0xF57C00),
    "escalated": ("ESCALATED", 0xE64A19),
    "recovered": ("RECOVERED", 0x2E7D32),
    "self_healed": ("SELF-HEALED", 0x1976D2),
    "flapping": ("FLAPPING", 0xFBC02D),
    "test": ("TEST", 0x607D8B),
    # errors the services reported themselves (supervisor/ingest/notices.py)
    "new_error": ("NEW ERROR", 0xE64A19),
    "regression": ("REGRESSION", 0xC2185B),
    "error_spike": ("ERROR SPIKE", 0xD32F2F),
    "report": ("REPORT", 0x455A64),
}


def new_alert_id() -> str:
    return "AL_" + secrets.token_hex(5)


def rank(severity: str) -> int:
    try:
        return SEVERITY_RANK[Severity(severity)]
    except ValueError:
        return SEVERITY_RANK[Severity.MEDIUM]


@dataclass
class Alert:
    kind: str
    service: str
    severity: str
    summary: str  # one line: what happened, in words
    correlation_id: str | None = None
    state: str = ""
    category: str = ""
    error_type: str = ""
    check: str = ""
    detail: str = ""  # the failing check's own message
    recovery: list[dict[str, Any]] = field(default_factory=list)  # attempts, oldest first
    outcome: str = ""
    downtime_ms: int | None = None
    fixed_by: str = ""
    affected: list[str] = field(default_factory=list)  # dependents folded into this incident
    link: str = ""
    id: str = field(default_factory=new_alert_id)
    at: float = field(default_factory=time.time)
    event_at: float | None = None  # when the state change behind it happened
    opened_by: str = ""  # the kind of the incident's first paging message (mail threading)
    ack_link: str = ""  # signed one-click acknowledgement, when publicUrl is set

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alert:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    # -- words shared by every channel ------------------------------------------------------
    @property
    def label(self) -> str:
        return KINDS.get(self.kind, (self.kind.upper(), 0))[0]

    @property
    def colour(self) -> int:
        return KINDS.get(self.kind, ("", 0x607D8B))[1]

    @property
    def title(self) -> str:
        return f"[{self.label}] {self.service}: {self.summary}"

    @property
    def iso_time(self) -> str:
        return datetime.fromtimestamp(self.at, UTC).isoformat(timespec="seconds")

    def facts(self) -> list[tuple[str, str]]:
        """(label, value) pairs in reading order; empty values are left out."""
        out = [("Service", self.service), ("State", self.state),
               ("Severity", self.severity),
               ("Category", f"{self.category} ({self.error_type})" if self.error_type
                else self.category),
               ("Check", self.check)]
        if self.downtime_ms is not None:
            out.append(("Downtime", human_ms(self.downtime_ms)))
        if self.fixed_by:
            out.append(("Fixed by", self.fixed_by))
        if self.affected:
            out.append(("Also affected", ", ".join(self.affected)))
        return [(k, v) for k, v in out if v]

    def recovery_lines(self) -> list[str]:
        lines = []
        for a in self.recovery:
            mark = "ok" if a.get("ok") else "failed"
            lines.append(f"{a.get('strategy', '?')} #{a.get('attempt', '?')}: {mark}"
                         f" - {a.get('message', '')}".rstrip(" -"))
        if self.outcome:
            lines.append(f"Outcome: {self.outcome}")
        return lines

    def plain_text(self) -> str:
        """The message as plain text: Slack's fallback, logs, and the CLI."""
        parts = [self.title]
        if self.detail:
            parts.append(self.detail)
        parts.append(" | ".join(f"{k}: {v}" for k, v in self.facts()))
        rec = self.recovery_lines()
        if rec:
            parts.append("Recovery: " + "; ".join(rec))
        if self.link:
            parts.append(self.link)
        if self.ack_link:
            parts.append(f"Acknowledge: {self.ack_link}")
        if self.correlation_id:
            parts.append(f"incident {self.correlation_id}")
        return "\n".join(parts)


def human_ms(ms: float) -> str:
    s = ms / 1000
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{int(s // 60)} min {int(s % 60)} s"
    return f"{int(s // 3600)} h {int(s % 3600 // 60)} min"


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters, at a line or word end when one is near, marked with …"""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[:limit]
    cut = text[:limit - 1]
    for sep in ("\n", " "):
        at = cut.rfind(sep)
        if at >= limit * 0.7:
            cut = cut[:at]
            break
    return cut.rstrip() + "…"
