"""The circuit breaker and the backoff level between recoveries, per service.

The breaker opens when a ladder is exhausted or a service flaps: the service goes to
`gave_up`, is probed slowly, and the breaker closes by itself once it is healthy again. The
backoff level counts automatic recoveries in a row without a stable healthy period and starts
anew after `resetAfter` of health. Both are kept in the store (saved_state.py), so they survive
a restart of the daemon.
"""

from __future__ import annotations

import time

from loguru import logger

from supervisor.config.services import RecoveryDefaults
from supervisor.core.events import EventBus
from supervisor.core.state import State, StateTracker
from supervisor.recovery.run import RecoveryRun
from supervisor.recovery.saved_state import RecoveryStateStore, ServiceRecord


class Breakers:
    def __init__(self, tracker: StateTracker, bus: EventBus,
                 persist: RecoveryStateStore) -> None:
        self.tracker = tracker
        self.bus = bus
        self.persist = persist
        self.defaults = RecoveryDefaults()
        self.records: dict[str, ServiceRecord] = {}

    async def load(self) -> None:
        self.records.update(await self.persist.load())

    def record(self, service: str) -> ServiceRecord:
        rec = self.records.get(service)
        if rec is None:
            rec = self.records[service] = ServiceRecord(service)
        return rec

    async def save(self, rec: ServiceRecord) -> None:
        try:
            await self.persist.save(rec)
        except Exception:
            logger.exception("cannot store the recovery state of {}", rec.service)

    async def failing(self, service: str, at: float) -> None:
        """Declared failing: a long enough healthy period before it resets the backoff."""
        rec = self.record(service)
        if rec.level and rec.healthy_since is not None \
                and (at - rec.healthy_since) * 1000 >= self.defaults.reset_after:
            logger.info("{}: healthy for {:.0f} s before failing; backoff starts anew",
                        service, at - rec.healthy_since)
            rec.level = 0
        rec.healthy_since = None
        await self.save(rec)

    async def up_again(self, service: str, at: float, correlation_id: str | None) -> None:
        """Up after being down: the breaker closes by itself."""
        rec = self.record(service)
        rec.healthy_since = at
        if rec.breaker_open:
            rec.breaker_open, rec.opened_at = False, None
            self.bus.publish("breaker_closed", service, correlation_id,
                             reason=f"healthy again; breaker opened for: {rec.reason}")
            logger.info("{}: healthy again; circuit breaker closed", service)
            rec.reason = ""
        await self.save(rec)

    async def recovered(self, service: str) -> None:
        """An automatic recovery worked: one more in a row, for backoff and the flap window."""
        rec = self.record(service)
        rec.recoveries.append(time.time())
        rec.level += 1
        await self.save(rec)

    def flapping(self, service: str) -> bool:
        rec = self.record(service)
        cutoff = time.time() - self.defaults.flap_window / 1000
        rec.recoveries = [t for t in rec.recoveries if t >= cutoff]
        return len(rec.recoveries) >= self.defaults.flap_max_recoveries

    async def open(self, service: str, reason: str, run: RecoveryRun) -> None:
        rec = self.record(service)
        rec.breaker_open, rec.opened_at, rec.reason = True, time.time(), reason
        await self.save(rec)
        self.give_up(service, reason, run, breaker="opened")

    def give_up(self, service: str, reason: str, run: RecoveryRun, breaker: str) -> None:
        self.tracker.set_state(service, State.GAVE_UP, reason, recovery=run.id)
        rec = self.record(service)
        self.bus.publish("gave_up", service, self.tracker.get(service).correlation_id,
                         reason=reason, recovery=run.id, attempts=run.attempts,
                         breaker=breaker, breakerOpenedAt=rec.opened_at)
