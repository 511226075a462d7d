"""A lapsed node as a stored error and an alert, on the one node that won its lapse guard.

The error goes through the incident recorder like any other (stored, `error_recorded` on the
bus, listed by /errors) under the service name `node:<name>`, with the lapse's correlation id;
the alert goes through the alerting subsystem (silences, routing, outbox, escalation). The
"recovered" closes both, sent by whichever node deleted the down marker: not necessarily the
one that sent "firing", which may have died since.
"""

from __future__ import annotations

import time
from typing import Any

from supervisor.alerts.message import Alert, human_ms
from supervisor.alerts.service import AlertService
from supervisor.cluster.record import UNKNOWN, NodeRecord
from supervisor.core.incidents import IncidentRecorder
from supervisor.core.taxonomy import NODE_LAPSED


def node_service(node: str) -> str:
    """The `service` of a node's own errors and alerts."""
    return f"node:{node}"


def lapse_message(node: str, last: NodeRecord | None, ttl_s: float, now_ms: int) -> str:
    services = sorted(last.services) if last is not None else []
    seen = (f"last seen {human_ms(max(0, now_ms - last.last_seen))} ago"
            if last is not None and last.last_seen else "never seen alive by this node")
    shown = ", ".join(services[:10]) + (f" and {len(services) - 10} more"
                                        if len(services) > 10 else "")
    tail = f"; its services are {UNKNOWN} now: {shown}" if services else ""
    return (f"node {node} stopped renewing its cluster membership (TTL {ttl_s:g} s, "
            f"{seen}){tail}")


class LapseAlerts:
    def __init__(self, incidents: IncidentRecorder, alerts: AlertService, me: str,
                 ttl_s: float) -> None:
        self.incidents = incidents
        self.alerts = alerts
        self.me = me
        self.ttl_s = ttl_s
        self.fired: dict[str, str] = {}  # node -> correlation id of the lapse this node paged

    async def lapsed(self, node: str, last: NodeRecord | None, marker: dict[str, Any]) -> None:
        cid = str(marker.get("correlationId") or f"node_{node}")
        message = lapse_message(node, last, self.ttl_s, round(time.time() * 1000))
        service = node_service(node)
        self.fired[node] = cid
        await self.incidents.record_error(
            service, cid, NODE_LAPSED, message,
            {"node": node, "noticedBy": self.me, "generation": marker.get("generation"),
             "lastSeen": last.last_seen if last else None,
             "version": last.version if last else None,
             "apiUrl": last.api_url if last else None,
             "services": sorted(last.services) if last else []})
        await self.alerts.send(Alert(
            kind="firing", service=service, severity=str(NODE_LAPSED.severity),
            summary=f"node {node} lapsed: not heard from within {self.ttl_s:g} s",
            correlation_id=cid, state=UNKNOWN, category=str(NODE_LAPSED.category),
            error_type=NODE_LAPSED.type, check="cluster membership", detail=message,
            affected=sorted(last.services) if last else [],
            link=self.alerts.link(service, cid), event_at=time.time()))

    async def seen_back(self, node: str) -> None:
        """The node is back, whoever says "recovered": an escalation this node began for its
        lapse stops, and the error is marked recovered in this node's store."""
        cid = self.fired.pop(node, None)
        if cid is not None:
            await self.incidents.resolve(cid, time.time(), f"node {node} rejoined")
            await self.alerts.escalations.finish(cid, "recovered")

    async def back(self, node: str, record: NodeRecord, marker: dict[str, Any]) -> None:
        cid = str(marker.get("correlationId") or f"node_{node}")
        now = time.time()
        since = marker.get("at")
        downtime = round(now * 1000 - since) if isinstance(since, int | float) else None
        await self.incidents.resolve(cid, now, f"node {node} rejoined")
        service = node_service(node)
        took = f" after {human_ms(downtime)}" if downtime is not None else ""
        await self.alerts.send(Alert(
            kind="recovered", service=service, severity=str(NODE_LAPSED.severity),
            summary=f"node {node} rejoined the cluster{took}", correlation_id=cid,
            state="healthy", category=str(NODE_LAPSED.category), error_type=NODE_LAPSED.type,
            check="cluster membership", detail=f"{len(record.services)} service(s) reported "
                                               f"again; generation {record.generation}",
            downtime_ms=downtime, fixed_by="rejoined the cluster", opened_by="firing",
            link=self.alerts.link(service, cid), event_at=now))
