"""Alerts for the daemon's own outages (observability/outages.py: the shared store
unreachable): a "firing" message when one begins and a "recovered" one, under the same
correlation id, when it ends. They are not service incidents (no state, no recovery), so they
go straight through the alerter's silences, routing and outbox."""

from __future__ import annotations

from typing import Any

from loguru import logger

from supervisor.alerts.leadership import OutageLeader
from supervisor.alerts.lifecycle import Alerter
from supervisor.alerts.message import Alert, human_ms
from supervisor.core.events import Event

OUTAGE_EVENTS = frozenset({"own_outage", "own_outage_cleared"})


class OwnOutageAlerts:
    def __init__(self, alerter: Alerter, leader: OutageLeader) -> None:
        self.alerter = alerter
        self.leader = leader  # which node of a cluster pages about an outage they all see
        self._open: dict[str, dict[str, Any]] = {}  # correlation id -> the outage's event data

    async def on_event(self, e: Event) -> None:
        if not self.alerter.cfg.enabled or not e.correlation_id:
            return
        d = e.data
        what = str(d.get("what", ""))
        if e.type == "own_outage":
            self._open[e.correlation_id] = d
            paged_by = await self.leader.opening(what, float(d.get("since") or e.at))
            if paged_by:
                logger.info("alerts: {} unreachable: node {} paged about it; not again",
                            what, paged_by)
                return
            await self.alerter.submit(Alert(
                kind="firing", service=e.service or "", severity=str(d.get("severity", "high")),
                summary=str(d.get("message", ""))[:300], correlation_id=e.correlation_id,
                state="failing", category=str(d.get("category", "")),
                error_type=str(d.get("errorType", "")), detail=str(d.get("message", "")),
                event_at=e.at, opened_by="firing"))
        elif e.type == "own_outage_cleared":
            first = self._open.pop(e.correlation_id, None) or {}
            if not await self.leader.closing(what):
                logger.info("alerts: {} reachable again: another node said so", what)
                return
            downtime = int(d.get("downtimeMs") or 0)
            await self.alerter.submit(Alert(
                kind="recovered", service=e.service or "",
                severity=str(first.get("severity", "high")),
                summary=f"{d.get('what', 'it')} reachable again after {human_ms(downtime)}",
                correlation_id=e.correlation_id, state="healthy",
                category=str(first.get("category", "")),
                error_type=str(first.get("errorType", "")), downtime_ms=downtime,
                fixed_by="came back by itself", event_at=e.at, opened_by="firing"))
