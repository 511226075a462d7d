"""Escalation policies: who hears about an incident, and when, while nobody acknowledges it.

    "escalation": [{"services": ["payments-*"], "minSeverity": "high", "steps": [
        {"afterMs": 0, "channels": ["ops-slack"]},
        {"afterMs": 600000, "channels": ["email"]},
        {"afterMs": 1200000, "channels": ["phone"], "minSeverity": "critical"}]}]

The first policy matching an incident's first page (service glob, severity) owns it. A channel
named in its steps hears about the incident only from its step on: at the page for `afterMs: 0`,
later through an "escalated" message (the page again, saying for how long nobody reacted). The
clock starts at the page and is stored, so a restart of the daemon keeps it. Escalation stops
at acknowledgement or recovery; channels reached by then still get "recovered".
"""

from __future__ import annotations

import fnmatch
import json
import sqlite3
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from supervisor.alerts.message import Alert, rank
from supervisor.core.taxonomy import Severity
from supervisor.store.database import Store

PAGES = ("firing", "gave_up")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EscalationStep(_Model):
    after: float = Field(ge=0, alias="afterMs", description="Since the first page.")
    channels: list[str] = Field(min_length=1)
    min_severity: Severity | None = Field(None, alias="minSeverity",
                                          description="Only incidents this severe reach it.")


class EscalationPolicy(_Model):
    name: str | None = None
    services: list[str] = Field(default_factory=lambda: ["*"], description="Glob patterns.")
    min_severity: Severity = Field(Severity.LOW, alias="minSeverity")
    steps: list[EscalationStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _in_order(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        if any(b.after < a.after for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("steps must be in the order of their afterMs")
        return steps

    def matches(self, alert: Alert) -> bool:
        return rank(alert.severity) >= rank(self.min_severity) and any(
            fnmatch.fnmatchcase(alert.service, p) for p in self.services)

    def channels(self) -> set[str]:
        return {c for s in self.steps for c in s.channels}


def step_applies(step: EscalationStep, severity: str) -> bool:
    return step.min_severity is None or rank(severity) >= rank(step.min_severity)


class Escalations:
    """The open escalations, mirrored in the store's `escalations` table."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.policies: list[EscalationPolicy] = []
        self.rows: dict[str, dict[str, Any]] = {}

    def configure(self, policies: list[EscalationPolicy]) -> None:
        self.policies = list(policies)

    def _policy(self, key: str) -> EscalationPolicy | None:
        for i, p in enumerate(self.policies):
            if (p.name or str(i)) == key:
                return p
        return None

    def _match(self, alert: Alert) -> tuple[str, EscalationPolicy] | None:
        for i, p in enumerate(self.policies):
            if p.matches(alert):
                return p.name or str(i), p
        return None

    async def load(self) -> None:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            return [dict(r) for r in conn.execute(
                "SELECT * FROM escalations WHERE closed_at IS NULL")]
        self.rows = {}
        for r in await self.store.run(q):
            r["reached"] = json.loads(r["reached"])
            self.rows[r["incident_id"]] = r

    # -- routing ----------------------------------------------------------------------------
    def held(self, alert: Alert) -> set[str]:
        """Channels that must not hear about this alert's incident yet."""
        row = self.rows.get(alert.correlation_id or "")
        if row is not None:
            policy = self._policy(row["policy"])
            return set() if policy is None else policy.channels() - set(row["reached"])
        found = self._match(alert)
        if found is None:
            return set()
        policy = found[1]
        now = {c for s in policy.steps if s.after == 0 and step_applies(s, alert.severity)
               for c in s.channels}
        return policy.channels() - now

    async def begin(self, alert: Alert) -> None:
        """The incident's first page: start its clock (once)."""
        cid = alert.correlation_id
        if alert.kind not in PAGES or not cid or cid in self.rows:
            return
        found = self._match(alert)
        if found is None:
            return
        key, policy = found
        first = [s for s in policy.steps if s.after == 0]
        row = {"incident_id": cid, "service": alert.service, "severity": alert.severity,
               "policy": key, "started_at": alert.at, "next_step": len(first),
               "reached": sorted({c for s in first if step_applies(s, alert.severity)
                                  for c in s.channels}),
               "alert": json.dumps(alert.to_dict()), "stopped": None, "closed_at": None}
        self.rows[cid] = row

        def ins(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO escalations (incident_id, service, severity, policy, "
                "started_at, next_step, reached, alert) VALUES (?,?,?,?,?,?,?,?)",
                (cid, alert.service, alert.severity, key, alert.at, row["next_step"],
                 json.dumps(row["reached"]), row["alert"]))
        await self.store.run(ins)

    # -- the clock --------------------------------------------------------------------------
    def due(self, now: float | None = None) -> list[tuple[dict[str, Any], EscalationStep]]:
        now = time.time() if now is None else now
        out = []
        for row in self.rows.values():
            policy = self._policy(row["policy"])
            if row["stopped"] or policy is None or row["next_step"] >= len(policy.steps):
                continue
            step = policy.steps[row["next_step"]]
            if now >= row["started_at"] + step.after / 1000:
                out.append((row, step))
        return out

    async def advance(self, row: dict[str, Any], reached: list[str]) -> None:
        row["next_step"] += 1
        row["reached"] = sorted(set(row["reached"]) | set(reached))
        await self._update(row, next_step=row["next_step"], reached=json.dumps(row["reached"]))

    async def stop(self, incident: str, why: str) -> None:
        """No further steps (acknowledged); the channels reached keep hearing about it."""
        row = self.rows.get(incident)
        if row is not None and not row["stopped"]:
            row["stopped"] = why
            await self._update(row, stopped=why)

    async def finish(self, incident: str, why: str) -> None:
        """The incident is over: forget it."""
        row = self.rows.pop(incident, None)
        if row is not None:
            await self._update(row, closed_at=time.time(), stopped=row["stopped"] or why)

    async def _update(self, row: dict[str, Any], **fields: Any) -> None:
        cols = ", ".join(f"{k} = ?" for k in fields)

        def upd(conn: sqlite3.Connection) -> None:
            conn.execute(f"UPDATE escalations SET {cols} WHERE incident_id = ?",
                                    (*fields.values(), row["incident_id"]))
        await self.store.run(upd)

    def to_api(self, incident: str) -> dict[str, Any] | None:
        row = self.rows.get(incident)
        if row is None:
            return None
        policy = self._policy(row["policy"])
        steps = policy.steps if policy else []
        upcoming = [{"afterMs": s.after, "channels": s.channels,
                     "at": round((row["started_at"] + s.after / 1000) * 1000)}
                    for s in steps[row["next_step"]:]] if not row["stopped"] else []
        return {"policy": row["policy"], "startedAt": round(row["started_at"] * 1000),
                "reached": row["reached"], "stopped": row["stopped"], "upcoming": upcoming}
