"""From bus events to alerts: one incident per correlation id, one message per change of it.

firing      the service is failing and the first automatic recovery attempt did not fix it
            (or at once: critical severity, `fireOn: failing`, recovery off or not possible)
gave_up     recovery stopped (breaker open): critical, always
recovered   a service that was paged about is up again: downtime and what fixed it
self_healed a failure repaired before anyone was paged: info, for channels that ask
reminder    optional, while a paged incident stays down
flapping    one notice when a service changes too often; then its messages are held

A service whose recovery waits for a failing dependency is folded into the dependency's
incident ("also affected") instead of paging on its own.

The incident record is incident.py, its messages' text incident_message.py; errors the
services reported become notices (error_notices.py); every message leaves through dispatch.py
(silences, storm control, routing, outbox).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Protocol

from loguru import logger

from supervisor.alerts.acks import Acks
from supervisor.alerts.dispatch import Dispatcher, DispatchTarget
from supervisor.alerts.error_notices import NOTICE_EVENTS, error_notice
from supervisor.alerts.incident import Incident, attempt_record, opened_incident, resumed_incident
from supervisor.alerts.incident_message import fixed_by, incident_alert
from supervisor.alerts.leadership import IncidentLeader
from supervisor.alerts.message import Alert, human_ms
from supervisor.core.events import Event
from supervisor.core.redaction import redact, redact_text
from supervisor.core.state import State, StateTracker


class AlertRouting(DispatchTarget, Protocol):
    """What the alerter needs of the alerting subsystem (alerts/service.AlertService)."""

    tracker: StateTracker
    auto_recovery: bool

    def link(self, service: str, incident: str) -> str: ...

    acks: Acks
    leader: IncidentLeader  # which node sends an incident's messages (a cluster: one)

    def ack_link(self, incident: str) -> str: ...


CLOSE_WAIT_S = 10.0  # how long "recovered" waits for the recovery run to say what fixed it
# skips that only postpone the repair (fireAfterMs still pages if it never comes)
WAITING = ("starting up", "waiting for", "another host", "service is paused")
EVENTS = frozenset({"state_changed", "recovery_started", "recovery_attempt",
                    "recovery_finished", "recovery_skipped", "gave_up"}) | NOTICE_EVENTS


class Alerter:
    def __init__(self, service: AlertRouting) -> None:
        self.svc = service
        self.incidents: dict[str, Incident] = {}
        self.dispatch = Dispatcher(service)
        self._lock = asyncio.Lock()

    @property
    def cfg(self) -> Any:
        return self.svc.config

    # -- events -----------------------------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        if not self.cfg.enabled or event.service is None:
            return
        async with self._lock:
            if event.type in NOTICE_EVENTS:  # errors the services reported: notices only
                await self.submit(error_notice(event, self.svc.link))
                return
            handler = getattr(self, f"_on_{event.type}", None)
            if handler is not None:
                await handler(event)

    async def _on_state_changed(self, e: Event) -> None:
        d = e.data
        state, previous = State(d["state"]), State(d["previous"])
        cid = e.correlation_id
        if state is State.FAILING and not previous.is_down and cid:
            inc = self._open(e)
            if self._fires_at_once(inc):
                await self._fire(inc, "is failing", e.at)
            else:
                inc.fire_deadline = time.time() + self.cfg.fire_after / 1000
        elif state is State.GAVE_UP and cid:
            self._open(e)  # the gave_up event that follows carries the attempts
        elif state.is_up and previous.is_down and cid and cid in self.incidents:
            inc = self.incidents[cid]
            inc.state = str(state)
            close = {"at": e.at, "downtime": d.get("downtimeMs"), "reason": d.get("reason", "")}
            if inc.recovering:  # the run's last attempt, published next, says what fixed it
                inc.pending_close, inc.close_deadline = close, time.time() + CLOSE_WAIT_S
            else:
                await self._close(inc, close)
        elif state is State.MAINTENANCE and cid:
            self.incidents.pop(cid, None)
            await self.svc.escalations.finish(cid, "maintenance")

    async def _on_recovery_started(self, e: Event) -> None:
        inc = self.incidents.get(e.correlation_id or "")
        if inc is not None:
            inc.recovering = True
            inc.state = "recovering"

    async def _on_recovery_attempt(self, e: Event) -> None:
        inc = self.incidents.get(e.correlation_id or "")
        if inc is None:
            return
        d = e.data
        inc.attempts.append({**attempt_record(d), "durationMs": d.get("durationMs")})
        if not d.get("ok") and not inc.fired and inc.folded_into is None:
            await self._fire(inc, "automatic recovery did not fix it", e.at)

    async def _on_recovery_finished(self, e: Event) -> None:
        inc = self.incidents.get(e.correlation_id or "")
        if inc is None:
            return
        inc.recovering = False
        inc.outcome = redact_text(str(e.data.get("message", "")))[:300]
        if inc.pending_close is not None:
            await self._close(inc, inc.pending_close)

    async def _on_recovery_skipped(self, e: Event) -> None:
        inc = self.incidents.get(e.correlation_id or "")
        if inc is None or inc.fired:
            return
        caused_by = e.data.get("causedBy")
        reason = str(e.data.get("reason", ""))
        if caused_by:
            self._fold(inc, str(caused_by))
        elif not reason.startswith(WAITING):
            # breaker open, flapping, given up: no automatic repair is coming
            inc.outcome = f"automatic recovery skipped: {reason}"
            await self._fire(inc, "is failing; no automatic recovery", e.at)

    async def _on_gave_up(self, e: Event) -> None:
        cid = e.correlation_id or ""
        inc = self.incidents.get(cid) or self._open(e)
        for a in e.data.get("attempts") or []:
            if not any(x.get("attempt") == a.get("attempt") and
                       x.get("strategy") == a.get("strategy") for x in inc.attempts):
                inc.attempts.append(attempt_record(a))
        inc.state, inc.recovering = "gave_up", False
        inc.outcome = redact_text(str(e.data.get("reason", "")))[:300]
        inc.fired = True
        await self._emit(inc, "gave_up", f"gave up: {inc.outcome}", severity="critical",
                         event_at=e.at)

    async def resume(self) -> None:
        """After a restart: an incident still open that somebody was paged about gets its
        "recovered" (and its reminders), threaded under the page it had before."""
        for st in self.svc.tracker.services.values():
            cid = st.correlation_id
            if not st.state.is_down or not cid or cid in self.incidents:
                continue
            inc = resumed_incident(cid, st, await self.svc.outbox.incident_alerts(cid))
            if inc is None:
                continue
            self.incidents[cid] = inc
            logger.bind(correlation_id=cid).info("alerts: {} resumes its paged incident",
                                                 st.name)

    # -- timers -----------------------------------------------------------------------------
    async def tick(self) -> None:
        """Once a second: late firing, overdue closes, reminders."""
        now = time.time()
        async with self._lock:
            await self.dispatch.retry_unstored()
            for inc in list(self.incidents.values()):
                if inc.pending_close is not None and now >= inc.close_deadline:
                    await self._close(inc, inc.pending_close)
                elif not inc.fired and inc.folded_into is None and inc.fire_deadline and \
                        now >= inc.fire_deadline:
                    down = human_ms((now - inc.started) * 1000)
                    await self._fire(inc, f"still down after {down}", None)
                elif inc.fired and self.cfg.reminder_interval and inc.pending_close is None and \
                        not inc.paged_by and \
                        now - inc.last_sent >= self.cfg.reminder_interval / 1000 and \
                        not self.svc.acks.acked(inc.id):
                    await self._emit(inc, "reminder",
                                     f"still {inc.state.replace('_', ' ')} after "
                                     f"{human_ms((now - inc.started) * 1000)}", None)

    # -- decisions --------------------------------------------------------------------------
    def _open(self, e: Event) -> Incident:
        cid = e.correlation_id or ""
        inc = self.incidents.get(cid)
        if inc is None:
            inc = self.incidents[cid] = opened_incident(
                e, self.svc.tracker.services.get(e.service or ""))
        return inc

    def _fires_at_once(self, inc: Incident) -> bool:
        return (self.cfg.fire_on == "failing" or inc.severity == "critical"
                or not self.svc.auto_recovery)

    def _fold(self, inc: Incident, dependency: str) -> None:
        st = self.svc.tracker.services.get(dependency)
        dep = self.incidents.get(st.correlation_id or "") if st is not None else None
        inc.folded_into = dependency
        if dep is not None and inc.service not in dep.affected:
            dep.affected.append(inc.service)
        logger.bind(correlation_id=inc.id).info(
            "alerts: {} folded into the incident of {}", inc.service, dependency)

    async def _fire(self, inc: Incident, why: str, event_at: float | None) -> None:
        inc.fired = True
        inc.paged_by = await self.svc.leader.opening(inc.service, inc.started)
        if not inc.paged_by:
            await self._emit(inc, "firing", why, event_at=event_at)

    async def _close(self, inc: Incident, close: dict[str, Any]) -> None:
        self.incidents.pop(inc.id, None)
        inc.pending_close = None
        fixed = fixed_by(inc)
        downtime = close.get("downtime")
        if downtime is None:
            downtime = round((close["at"] - inc.started) * 1000)
        send = await self.svc.leader.closing(inc.service, inc.fired, not inc.paged_by)
        if send == "recovered":
            await self._emit(inc, "recovered", f"healthy again after {human_ms(downtime)}",
                             event_at=close["at"], downtime_ms=downtime, fixed_by=fixed)
        elif send == "self_healed" and inc.folded_into is None:
            what = inc.error_type.replace("_", " ") or "failure"
            await self._emit(inc, "self_healed",
                             f"{what}, repaired in {human_ms(downtime)}; nobody was paged",
                             severity="info",
                             event_at=close["at"], downtime_ms=downtime, fixed_by=fixed)
        if inc.fired:
            await self.svc.escalations.finish(inc.id, "recovered")

    async def _emit(self, inc: Incident, kind: str, summary: str,
                    event_at: float | None = None, severity: str | None = None,
                    **extra: Any) -> None:
        if kind in ("firing", "gave_up") and not inc.opened_by:
            inc.opened_by = kind
        alert = incident_alert(inc, kind, summary, link=self.svc.link(inc.service, inc.id),
                               ack_link=self.svc.ack_link, event_at=event_at,
                               severity=severity, **extra)
        inc.last_sent = time.time()
        await self.submit(alert)

    # -- out --------------------------------------------------------------------------------
    async def submit(self, alert: Alert) -> None:
        """Silences, storm control, routing; then into the outbox (dispatch.py)."""
        await self.dispatch.submit(alert)

    async def send(self, alert: Alert) -> None:
        """An alert that no local state change made (a lapsed cluster node), through the
        same silences, storm control, routing and outbox as the others."""
        async with self._lock:
            await self.submit(Alert.from_dict(redact(alert.to_dict())))

    async def send_now(self, alert: Alert, channels: list[str]) -> None:
        """Straight to these channels (an escalation step), no window."""
        await self.dispatch.send_now(alert, channels)
