"""Silences and maintenance windows: matchers on service / severity / category (glob
patterns) over a time range. A silenced alert is stored with status `silenced`, not sent.

Silences come from services.json (`alerts.silences`, `alerts.maintenance`; fixed, listed
with `"source": "config"`) and from the API (stored, deletable).
"""

from __future__ import annotations

import fnmatch
import json
import secrets
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, model_validator

from supervisor.alerts.message import Alert
from supervisor.alerts.recurring import active_window, cron_trigger, next_start
from supervisor.store.database import Store


class Matchers(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [
        {"required": [k], "properties": {k: {"type": "string"}}}
        for k in ("service", "severity", "category")]})

    service: str | None = Field(None, description="Glob, e.g. payments-*")
    severity: str | None = Field(None, description="Glob over critical/high/medium/low/info")
    category: str | None = Field(None, description="Glob, e.g. NETWORK_*")

    @model_validator(mode="after")
    def _something(self) -> Matchers:
        if self.service is None and self.severity is None and self.category is None:
            raise ValueError("name at least one of service, severity, category "
                             "(use \"*\" to silence everything)")
        return self


class SilenceSpec(BaseModel):
    """A silence in services.json (`alerts.silences`) or in a POST body."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    matchers: Matchers
    # strict=False: an ISO-8601 string is how JSON spells a datetime.
    start: datetime | None = Field(None, strict=False, description="ISO-8601; default: now")
    end: datetime = Field(strict=False, description="ISO-8601")
    author: str = Field("", max_length=200)
    comment: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _order(self) -> SilenceSpec:
        if self.start is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class MaintenanceWindow(BaseModel):
    """`alerts.maintenance`: the named services (globs) send no alerts in [start, end), or in
    each recurring window (`cron` in `timezone`, for `durationMs`), where they are also paused
    unless `pause` is false (supervisor/windows.py)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    services: list[str] = Field(min_length=1)
    start: datetime | None = Field(None, strict=False)
    end: datetime | None = Field(None, strict=False)
    cron: str | None = Field(None, description="5 fields (minute hour day month weekday) or "
                                               "6 (seconds first)")
    timezone: str = Field("UTC", description="IANA zone the cron expression is read in")
    duration: float | None = Field(None, gt=0, alias="durationMs")
    pause: bool | None = Field(None, description="Put the services in maintenance (no "
                                                 "recovery, uptime excludes it); default: "
                                                 "true for recurring windows, false for fixed")
    comment: str = ""

    @model_validator(mode="after")
    def _order(self) -> MaintenanceWindow:
        if self.cron is not None:
            if self.start is not None or self.end is not None:
                raise ValueError("give either cron with durationMs, or start and end")
            if self.duration is None:
                raise ValueError("a cron window needs durationMs")
            cron_trigger(self.cron, self.timezone)
            return self
        if self.start is None or self.end is None:
            raise ValueError("give start and end, or cron with durationMs")
        if self.pause:
            raise ValueError("pause applies to recurring (cron) windows; for a one-off pause "
                             "use POST /api/monitoring/services/NAME/pause with durationMs")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def pauses(self) -> bool:
        return self.pause if self.pause is not None else self.cron is not None

    @property
    def duration_s(self) -> float:
        return (self.duration or 0) / 1000

    def trigger(self) -> CronTrigger:
        assert self.cron is not None
        return cron_trigger(self.cron, self.timezone)


def to_timestamp(dt: datetime | None, default: float) -> float:
    if dt is None:
        return default
    if dt.tzinfo is None:  # a time without zone is UTC, like every stored time
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def matches(matchers: dict[str, Any], alert: Alert) -> bool:
    values = {"service": alert.service, "severity": alert.severity, "category": alert.category}
    for key, pattern in matchers.items():
        if pattern is None:
            continue
        if key == "services":  # a maintenance window: any of its service globs
            if not any(fnmatch.fnmatchcase(alert.service, p) for p in pattern):
                return False
        elif not fnmatch.fnmatchcase(values.get(key, "") or "", str(pattern)):
            return False
    return True


def silence_to_api(s: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    if s.get("deleted_at"):
        state = "deleted"
    elif s["starts_at"] > now:
        state = "pending"
    elif s["ends_at"] <= now:
        state = "expired"
    else:
        state = "active"
    return {"id": s["id"], "matchers": s["matchers"], "start": _iso(s["starts_at"]),
            "end": _iso(s["ends_at"]), "author": s["author"], "comment": s["comment"],
            "source": s.get("source", "api"), "state": state,
            "createdAt": round(s["created_at"] * 1000),
            **({"cron": s["cron"], "timezone": s["timezone"]} if "cron" in s else {})}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class Silences:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.from_config: list[dict[str, Any]] = []
        self.from_api: list[dict[str, Any]] = []

    def configure(self, silences: list[SilenceSpec], windows: list[MaintenanceWindow]) -> None:
        now = time.time()
        out = []
        for i, s in enumerate(silences):
            out.append({"id": f"config-silence-{i}", "created_at": now,
                        "starts_at": to_timestamp(s.start, 0), "ends_at": to_timestamp(s.end, now),
                        "matchers": s.matchers.model_dump(exclude_none=True),
                        "author": s.author, "comment": s.comment, "source": "config"})
        for i, w in enumerate(windows):
            row = {"id": f"config-maintenance-{i}", "created_at": now,
                   "matchers": {"services": list(w.services)}, "author": "services.json",
                   "comment": w.comment or "maintenance window", "source": "config"}
            if w.cron is not None:
                row.update(starts_at=0.0, ends_at=0.0, cron=w.cron, timezone=w.timezone,
                           recurring=(w.trigger(), w.duration_s))
            else:
                row.update(starts_at=to_timestamp(w.start, 0), ends_at=to_timestamp(w.end, now))
            out.append(row)
        self.from_config = out

    async def load(self) -> None:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute("SELECT * FROM silences WHERE deleted_at IS NULL "
                                "AND ends_at > ? ORDER BY created_at",
                                (time.time() - 7 * 86400,)).fetchall()
            return [{**dict(r), "matchers": json.loads(r["matchers"]), "source": "api"}
                    for r in rows]
        self.from_api = await self.store.run(q)

    def match(self, alert: Alert, now: float | None = None) -> dict[str, Any] | None:
        now = time.time() if now is None else now
        for s in self.all(now):
            if s["starts_at"] <= now < s["ends_at"] and matches(s["matchers"], alert):
                return s
        return None

    def all(self, now: float | None = None) -> list[dict[str, Any]]:
        """Recurring windows with their current (or else next) occurrence as start and end."""
        now = time.time() if now is None else now
        out = []
        for s in self.from_config:
            if "recurring" in s:
                trigger, duration = s["recurring"]
                window = active_window(trigger, duration, now)
                if window is None:
                    begin = next_start(trigger, now)
                    window = (begin, begin + duration) if begin is not None else (0.0, 0.0)
                s = {**s, "starts_at": window[0], "ends_at": window[1]}
            out.append(s)
        return [*out, *self.from_api]

    async def create(self, spec: SilenceSpec) -> dict[str, Any]:
        now = time.time()
        row = {"id": "SL_" + secrets.token_hex(4), "created_at": now,
               "starts_at": to_timestamp(spec.start, now), "ends_at": to_timestamp(spec.end, now),
               "matchers": spec.matchers.model_dump(exclude_none=True),
               "author": spec.author, "comment": spec.comment}

        def ins(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO silences (id, created_at, starts_at, ends_at, matchers, author, "
                "comment) VALUES (?,?,?,?,?,?,?)",
                (row["id"], now, row["starts_at"], row["ends_at"], json.dumps(row["matchers"]),
                 row["author"], row["comment"]))
        await self.store.run(ins)
        await self.load()
        return {**row, "source": "api"}

    async def delete(self, silence_id: str) -> bool:
        def upd(conn: sqlite3.Connection) -> int:
            cur = conn.execute("UPDATE silences SET deleted_at = ? WHERE id = ? AND "
                               "deleted_at IS NULL", (time.time(), silence_id))
            return int(cur.rowcount)
        changed = await self.store.run(upd)
        await self.load()
        return changed > 0
