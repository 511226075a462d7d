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
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from loguru import logger

from supervisor.alerts.acks import Acks
from supervisor.alerts.escalation import Escalations
from supervisor.alerts.leadership import IncidentLeader
from supervisor.alerts.message import Alert, human_ms
from supervisor.alerts.outbox import Outbox
from supervisor.alerts.silences import Silences
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.events import Event
from supervisor.core.redaction import redact, redact_text
from supervisor.core.state import State, StateTracker
from supervisor.core.taxonomy import classify_result


class AlertRouting(Protocol):
    """What the alerter needs of the alerting subsystem (alerts/service.AlertService)."""

    config: Any
    tracker: StateTracker
    auto_recovery: bool
    outbox: Outbox
    silences: Silences

    def route(self, alert: Alert) -> list[str]: ...

    def wake(self, channels: list[str]) -> None: ...

    def link(self, service: str, incident: str) -> str: ...

    acks: Acks
    escalations: Escalations
    leader: IncidentLeader  # which node sends an incident's messages (a cluster: one)

    def ack_link(self, incident: str) -> str: ...

    def quiet_holds(self, alert: Alert, channels: list[str]) -> dict[str, float]: ...


ACKABLE = ("firing", "gave_up", "reminder")  # messages that carry an acknowledgement link
CLOSE_WAIT_S = 10.0  # how long "recovered" waits for the recovery run to say what fixed it
# skips that only postpone the repair (fireAfterMs still pages if it never comes)
WAITING = ("starting up", "waiting for", "another host", "service is paused")
EVENTS = frozenset({"state_changed", "recovery_started", "recovery_attempt",
                    "recovery_finished", "recovery_skipped", "gave_up",
                    # errors the services reported (supervisor/ingest/notices.py)
                    "error_group_new", "error_group_regressed", "error_spike"})
NOTICES = ("new_error", "regression", "error_spike")


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


class Alerter:
    def __init__(self, service: AlertRouting) -> None:
        self.svc = service
        self.incidents: dict[str, Incident] = {}
        self._sent: dict[str, deque[float]] = {}  # service -> times of its recent messages
        self._flap_noticed: set[str] = set()
        self._lock = asyncio.Lock()
        self._unstored: deque[tuple[Alert, list[str], float, str, str]] = deque()

    @property
    def cfg(self) -> Any:
        return self.svc.config

    # -- events -----------------------------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        if not self.cfg.enabled or event.service is None:
            return
        async with self._lock:
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
        inc.attempts.append({"strategy": d.get("strategy"), "attempt": d.get("attempt"),
                             "ok": bool(d.get("ok")),
                             "message": redact_text(str(d.get("message", "")))[:500],
                             "durationMs": d.get("durationMs")})
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
                inc.attempts.append({"strategy": a.get("strategy"), "attempt": a.get("attempt"),
                                     "ok": bool(a.get("ok")),
                                     "message": redact_text(str(a.get("message", "")))[:500]})
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
            sent = await self.svc.outbox.incident_alerts(cid)
            paged = [a for a in sent if a.kind in ("firing", "gave_up")]
            if not paged:
                continue
            first = paged[0]
            self.incidents[cid] = Incident(
                id=cid, service=st.name, started=st.incident_started or first.at,
                severity=first.severity, category=first.category, error_type=first.error_type,
                check=first.check, detail=first.detail, state=str(st.state),
                attempts=list(paged[-1].recovery), outcome=paged[-1].outcome, fired=True,
                affected=list(first.affected), last_sent=sent[-1].at, opened_by=first.kind)
            logger.bind(correlation_id=cid).info("alerts: {} resumes its paged incident",
                                                 st.name)

    # -- errors the services reported: notices, not incidents ------------------------------
    async def _on_error_group_new(self, e: Event) -> None:
        await self._notice(e, "new_error", f"new error: {e.data.get('message', '')}")

    async def _on_error_group_regressed(self, e: Event) -> None:
        await self._notice(e, "regression",
                           f"came back after it was resolved: {e.data.get('message', '')}")

    async def _on_error_spike(self, e: Event) -> None:
        d = e.data
        await self._notice(e, "error_spike",
                           f"{d.get('count')} errors in the last {d.get('windowS', 60):g} s "
                           f"({d.get('unhandled')} unhandled)", severity="high")

    async def _notice(self, e: Event, kind: str, summary: str,
                      severity: str | None = None) -> None:
        d = e.data
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
                      link=self.svc.link(e.service or "", str(d.get("fingerprint") or "")))
        await self.submit(Alert.from_dict(redact(alert.to_dict())))

    # -- timers -----------------------------------------------------------------------------
    async def tick(self) -> None:
        """Once a second: late firing, overdue closes, reminders."""
        now = time.time()
        async with self._lock:
            await self._flush_unstored()
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
        if inc is not None:
            return inc
        result = e.data.get("result") or {}
        st = self.svc.tracker.services.get(e.service or "")
        if not result and st is not None and st.last_failure is not None:
            result = st.last_failure.to_dict()
        c = classify_result(_result(result), critical_service=bool(st and st.critical))
        started = st.incident_started if st and st.incident_started else e.at
        inc = Incident(id=cid, service=e.service or "", started=started,
                       severity=str(c.severity), category=str(c.category), error_type=c.type,
                       check=str(result.get("check", "")),
                       detail=redact_text(str(result.get("message") or e.data.get("reason", "")))
                       [:1500], state=str(e.data.get("state", "failing")))
        self.incidents[cid] = inc
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
        ok = [a for a in inc.attempts if a.get("ok")]
        if ok:
            fixed = f"{ok[-1].get('strategy')} (attempt {ok[-1].get('attempt')})"
        elif inc.attempts or inc.outcome:
            fixed = "came back by itself after the recovery attempts"
        else:
            fixed = "came back by itself (no action taken)"
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
        alert = Alert(kind=kind, service=inc.service, severity=severity or inc.severity,
                      summary=summary, correlation_id=inc.id or None, state=inc.state,
                      category=inc.category, error_type=inc.error_type, check=inc.check,
                      detail=inc.detail, recovery=list(inc.attempts), outcome=inc.outcome,
                      affected=list(inc.affected), link=self.svc.link(inc.service, inc.id),
                      event_at=event_at, opened_by=inc.opened_by,
                      ack_link=self.svc.ack_link(inc.id) if kind in ACKABLE else "", **extra)
        if kind == "recovered":  # the attempts were in the firing message already
            alert.recovery = [a for a in inc.attempts if a.get("ok")][-1:]
        alert = Alert.from_dict(redact(alert.to_dict()))
        inc.last_sent = time.time()
        await self.submit(alert)

    async def submit(self, alert: Alert) -> None:
        """Silences, storm control, routing; then into the outbox."""
        silence = self.svc.silences.match(alert)
        if silence is not None:
            await self._store(alert, [], 0, status="silenced",
                              reason=f"silence {silence['id']}")
            logger.info("alert {} ({} {}) silenced by {}", alert.id, alert.kind, alert.service,
                        silence["id"])
            return
        # notices of reported errors are throttled where they are made; they must not make
        # the service look flapping and hold back its incident messages
        if alert.kind not in ("gave_up", *NOTICES) and self._flapping(alert):
            if alert.service in self._flap_noticed:
                await self._store(alert, [], 0, status="suppressed", reason="flapping")
                return
            self._flap_noticed.add(alert.service)
            await self._store(alert, [], 0, status="suppressed", reason="flapping")
            window = human_ms(self.cfg.flap_window)
            alert = Alert(kind="flapping", service=alert.service, severity=alert.severity,
                          summary=f"changed state too often ({self.cfg.flap_max_messages} "
                                  f"messages within {window}); further messages are held "
                                  f"until it is quiet for {window}",
                          correlation_id=alert.correlation_id, state=alert.state,
                          category=alert.category, error_type=alert.error_type,
                          check=alert.check, detail=alert.detail, link=alert.link)
        await self.svc.escalations.begin(alert)
        channels = self.svc.route(alert)
        delay = 0.0 if alert.severity == "critical" else self.cfg.group_window / 1000
        await self._store(alert, channels, delay)
        self.svc.wake(channels)

    async def send(self, alert: Alert) -> None:
        """An alert that no local state change made (a lapsed cluster node), through the
        same silences, storm control, routing and outbox as the others."""
        async with self._lock:
            await self.submit(Alert.from_dict(redact(alert.to_dict())))

    async def send_now(self, alert: Alert, channels: list[str]) -> None:
        """Straight to these channels (an escalation step), no window."""
        await self._store(alert, channels, 0.0)
        self.svc.wake(channels)

    async def _store(self, alert: Alert, channels: list[str], delay: float,
                     status: str = "queued", reason: str = "") -> None:
        """Into the outbox; when the store cannot write (disk full), held here in order and
        retried by tick(): an alert is never dropped for want of a disk."""
        self._unstored.append((alert, channels, delay, status, reason))
        await self._flush_unstored()

    async def _flush_unstored(self) -> None:
        while self._unstored:
            alert, channels, delay, status, reason = self._unstored[0]
            try:
                await self.svc.outbox.add(alert, channels, delay, status, reason,
                                          self.svc.quiet_holds(alert, channels))
            except Exception as exc:
                if len(self._unstored) in (1, 10, 100):
                    logger.error("cannot store alert {} ({}); {} held in memory, retrying: {}",
                                 alert.id, alert.kind, len(self._unstored), exc)
                return
            self._unstored.popleft()
            self.svc.wake(channels)

    def _flapping(self, alert: Alert) -> bool:
        window = self.cfg.flap_window / 1000
        times = self._sent.setdefault(alert.service, deque())
        now = time.time()
        while times and now - times[0] > window:
            times.popleft()
        if not times:
            self._flap_noticed.discard(alert.service)
        if len(times) >= self.cfg.flap_max_messages:
            return True
        times.append(now)
        return False


def _result(d: dict[str, Any]) -> CheckResult:
    try:
        kind = CheckKind(d.get("kind", "unhealthy"))
    except ValueError:
        kind = CheckKind.UNHEALTHY
    return CheckResult(kind=kind, message=str(d.get("message", "")), check=str(d.get("check", "")),
                       check_type=str(d.get("type", "")), details=dict(d.get("details") or {}))
