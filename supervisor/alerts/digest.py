"""Reports delivered to channels: a daily or weekly summary that arrives instead of waiting in
a folder.

    "reports": [{"channels": ["ops-mail", "ops-slack"], "cron": "0 8 * * mon",
                 "timezone": "Europe/Berlin", "periodMs": 604800000}]

Uptime per service, the incidents with their downtime and what fixed them, the mean time to
repair, the top error groups, and the trend against the period before. The summary is an alert
of kind `report` (severity info), so each channel renders it in its own format; it goes to the
named channels whatever their minSeverity, never to a phone.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from supervisor.alerts.channels.base import Channel
from supervisor.alerts.message import Alert, human_ms
from supervisor.alerts.outbox import Outbox
from supervisor.alerts.recurring import cron_trigger, next_start
from supervisor.core.state import StateTracker
from supervisor.core.uptime import uptime_percent
from supervisor.store.database import Store

Send = Callable[[Alert, list[str]], Awaitable[None]]

CLOSED = ("recovered", "self_healed")


class ReportSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    channels: list[str] = Field(min_length=1)
    cron: str = Field("0 8 * * *", description="When it is sent (5 fields, or 6)")
    timezone: str = "UTC"
    period: float = Field(86400000, gt=0, alias="periodMs",
                          description="The time it covers, up to the moment it is sent")

    @model_validator(mode="after")
    def _cron(self) -> ReportSchedule:
        cron_trigger(self.cron, self.timezone)
        return self


def _trend(now: float, before: float, unit: str = "", better_lower: bool = False) -> str:
    if now == before:
        return "same as before"
    worse = (now > before) == better_lower
    return f"{'▲' if now > before else '▼'} {abs(now - before):.3g}{unit} " \
           f"({'worse' if worse else 'better'})"


async def build_digest(store: Store, tracker: StateTracker, outbox: Outbox, period_s: float,
                       now: float | None = None) -> Alert:
    now = time.time() if now is None else now
    since, before = now - period_s, now - 2 * period_s
    # from the period before on; uptime_percent clips each row to the window it is asked for
    transitions = await store.transitions(before)
    names = set(tracker.services) | {t["service"] for t in transitions}
    up = uptime_percent(transitions, since, now, names)
    up_before = uptime_percent(transitions, before, since, names)
    failing = [t for t in transitions if t["state"] == "failing" and t["at"] >= before]
    n_now = sum(1 for t in failing if t["at"] >= since)
    n_before = len(failing) - n_now
    closed = [json.loads(r["alert"]) for r in await outbox.list_alerts(since, 1000)
              if r["kind"] in CLOSED]
    closed.reverse()  # oldest first
    downtimes = [a["downtime_ms"] for a in closed if a.get("downtime_ms") is not None]
    mttr = statistics.mean(downtimes) if downtimes else None
    groups = await store.error_groups(since=since, limit=5, sort="count")
    period = human_ms(period_s * 1000)
    known_before = any(t["at"] < since for t in transitions)
    trend_up = _trend(up, up_before, " pt") if known_before else "no period before"
    trend_n = _trend(n_now, n_before, better_lower=True) if known_before else "no period before"
    lines = [f"Uptime {up:.3f} % ({trend_up}); {n_now} incident(s) ({trend_n}); mean time to "
             f"repair {human_ms(mttr) if mttr is not None else '-'}", "", "Uptime per service:"]
    for name in sorted(names):
        st = tracker.services.get(name)
        lines.append(f"  {name}: {uptime_percent(transitions, since, now, {name}):.3f} %"
                     f" (now {st.state if st else 'removed'})")
    lines += ["", "Incidents:"]
    lines += [f"  {a['service']}: down {human_ms(a['downtime_ms'] or 0)}, fixed by "
              f"{a.get('fixed_by') or '?'}" for a in closed[-15:]] or ["  none"]
    lines += ["", "Top error groups:"]
    lines += [f"  {g['count']}× {g['service'] or '-'} {g['category']}: {g['message'][:100]}"
              for g in groups] or ["  none"]
    return Alert(kind="report", service="soulfra-supervisor", severity="info",
                 summary=f"report for the last {period}: {up:.2f} % uptime, {n_now} "
                         f"incident(s)", detail="\n".join(lines))


class ReportSender:
    """Sends each configured report at its cron times (from the service's one-second tick)."""

    def __init__(self, store: Store, tracker: StateTracker, outbox: Outbox, send: Send) -> None:
        self.store, self.tracker, self.outbox, self.send = store, tracker, outbox, send
        self.schedules: list[ReportSchedule] = []
        self.next_at: list[float | None] = []

    def configure(self, schedules: list[ReportSchedule], now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.schedules = list(schedules)
        self.next_at = [next_start(cron_trigger(s.cron, s.timezone), now) for s in schedules]

    async def tick(self, channels: dict[str, Channel], now: float | None = None) -> None:
        now = time.time() if now is None else now
        for i, s in enumerate(self.schedules):
            due = self.next_at[i]
            if due is None or now < due:
                continue
            self.next_at[i] = next_start(cron_trigger(s.cron, s.timezone), now + 1)
            report = await build_digest(self.store, self.tracker, self.outbox, s.period / 1000,
                                        now)
            await self.send(report, [n for n in s.channels if n in channels
                                     and channels[n].type_name != "phone"])

    def to_api(self) -> list[dict[str, Any]]:
        return [{"channels": s.channels, "cron": s.cron, "timezone": s.timezone,
                 "periodMs": s.period, "nextAt": round(n * 1000) if n else None}
                for s, n in zip(self.schedules, self.next_at, strict=True)]
