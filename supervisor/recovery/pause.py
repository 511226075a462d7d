"""Planned stops: a paused service is in maintenance — no checks count, no recovery runs, and
it is not a failure. A pause may stop the process, and may end by itself at a given time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from loguru import logger

from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import State, StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.recovery.breaker import Breakers
from supervisor.recovery.journal import RecoveryJournal
from supervisor.recovery.plan import ServicePlan
from supervisor.recovery.run import utc_clock
from supervisor.recovery.runner import RecoveryRunner

Spawn = Callable[[Coroutine[Any, Any, Any]], None]


class Pauses:
    def __init__(self, *, tracker: StateTracker, bus: EventBus, scheduler: Scheduler,
                 processes: ProcessManager, breakers: Breakers, journal: RecoveryJournal,
                 runner: RecoveryRunner, plans: Mapping[str, ServicePlan],
                 spawn: Spawn) -> None:
        self.tracker = tracker
        self.bus = bus
        self.scheduler = scheduler
        self.processes = processes
        self.breakers = breakers
        self.journal = journal
        self.runner = runner
        self.plans = plans
        self.spawn = spawn

    def restore(self, service: str, paused: dict[str, Any]) -> None:
        """After a daemon restart: still paused, and the window still ends when it said."""
        self.tracker.set_state(service, State.MAINTENANCE,
                               f"paused by {paused.get('by')}: "
                               f"{paused.get('reason') or 'no reason given'}")
        until = paused.get("until")
        if until:
            self.spawn(self._resume_at(service, float(until)))

    async def pause(self, service: str, *, by: str, reason: str = "", stop: bool = False,
                    duration_ms: float | None = None) -> dict[str, Any]:
        rec = self.breakers.record(service)
        await self.runner.interrupt(service, f"interrupted: {service} was paused by {by}")
        self.tracker.set_state(service, State.MAINTENANCE,
                               f"paused by {by}: {reason or 'no reason given'}")
        stopped: list[int] = []
        spec = self.plans[service].process_spec if service in self.plans else None
        if stop and spec is not None:
            stopped = await self.processes.stop(service, spec)
        until = time.time() + duration_ms / 1000 if duration_ms else None
        rec.paused = {"by": by, "reason": reason, "at": time.time(), "until": until,
                      "stopped": bool(stopped)}
        await self.breakers.save(rec)
        message = f"paused by {by}" + (f": {reason}" if reason else "") + (
            f"; stopped pid {stopped[0]}" if stopped else "") + (
            f"; resumes at {utc_clock(until)}" if until else "")
        await self.journal.action(service, "pause", by, "done", message)
        self.bus.publish("service_paused", service, None, by=by, reason=reason,
                         until=until, stopped=stopped)
        if until:
            self.spawn(self._resume_at(service, until))
        return rec.paused

    async def resume(self, service: str, *, by: str) -> dict[str, Any]:
        rec = self.breakers.record(service)
        paused = rec.paused or {}
        rec.paused = None
        await self.breakers.save(rec)
        started = None
        spec = self.plans[service].process_spec if service in self.plans else None
        if paused.get("stopped") and spec is not None \
                and self.processes.pid_of(service, spec) is None:
            try:
                started = await self.processes.start(service, spec)
            except OSError as exc:
                logger.error("cannot start {} on resume: {}", service, exc)
        st = self.tracker.services.get(service)
        if st is not None and st.state is State.MAINTENANCE:
            st.consecutive_failures = st.consecutive_successes = 0
            self.tracker.transition(st, State.UNKNOWN, f"resumed by {by}")
        message = f"resumed by {by}" + (f"; started pid {started}" if started else "")
        await self.journal.action(service, "resume", by, "done", message)
        self.bus.publish("service_resumed", service, None, by=by, started=started)
        self.spawn(self.scheduler.run_service(service))
        return {"resumedBy": by, "startedPid": started}

    async def _resume_at(self, service: str, until: float) -> None:
        await asyncio.sleep(max(0.0, until - time.time()))
        rec = self.breakers.records.get(service)
        if rec is not None and rec.paused and rec.paused.get("until") == until:
            await self.resume(service, by="maintenance window end")
