"""A composed alert's way out: silences, storm control, escalation, routing, then the outbox.
When the outbox cannot write (disk full), alerts wait here in order and are retried each tick:
an alert is never dropped for want of a disk."""

from __future__ import annotations

from collections import deque
from typing import Any, Protocol

from loguru import logger

from supervisor.alerts.error_notices import NOTICES
from supervisor.alerts.escalation import Escalations
from supervisor.alerts.flapping import FlapGuard, flapping_notice
from supervisor.alerts.message import Alert
from supervisor.alerts.outbox import Outbox
from supervisor.alerts.silences import Silences


class DispatchTarget(Protocol):
    """What dispatching needs of the alerting subsystem (alerts/service.AlertService)."""

    config: Any
    outbox: Outbox
    silences: Silences
    escalations: Escalations

    def route(self, alert: Alert) -> list[str]: ...

    def wake(self, channels: list[str]) -> None: ...

    def quiet_holds(self, alert: Alert, channels: list[str]) -> dict[str, float]: ...


class Dispatcher:
    def __init__(self, service: DispatchTarget) -> None:
        self.svc = service
        self.flaps = FlapGuard()
        self._unstored: deque[tuple[Alert, list[str], float, str, str]] = deque()

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
            first = self.flaps.first_notice(alert.service)
            await self._store(alert, [], 0, status="suppressed", reason="flapping")
            if not first:
                return
            alert = flapping_notice(alert, self.svc.config.flap_max_messages,
                                    self.svc.config.flap_window)
        await self.svc.escalations.begin(alert)
        channels = self.svc.route(alert)
        delay = 0.0 if alert.severity == "critical" else self.svc.config.group_window / 1000
        await self._store(alert, channels, delay)
        self.svc.wake(channels)

    async def send_now(self, alert: Alert, channels: list[str]) -> None:
        """Straight to these channels (an escalation step), no window."""
        await self._store(alert, channels, 0.0)
        self.svc.wake(channels)

    async def retry_unstored(self) -> None:
        """Into the outbox, in order, what it could not take before; stops at the first that
        it still cannot."""
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
        cfg = self.svc.config
        return self.flaps.flapping(alert.service, cfg.flap_window, cfg.flap_max_messages)

    async def _store(self, alert: Alert, channels: list[str], delay: float,
                     status: str = "queued", reason: str = "") -> None:
        self._unstored.append((alert, channels, delay, status, reason))
        await self.retry_unstored()
