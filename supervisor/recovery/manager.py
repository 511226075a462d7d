"""The recovery manager: turns a failing service into a ladder of verified repair attempts.

It decides *whether* and *when* to act; the parts beside it do the rest: `plan` (a service's
ladder and which steps an action may use), `dependencies` (hold a dependent while what it
depends on is down), `breaker` (give up, backoff between recoveries), `runner` (the steps and
their attempts), `verify` (a repair counts when the checks pass), `pause` (maintenance),
`journal` (every run, stored), `locks` (one recovery per service, across hosts too),
`lease_wait` (a shared service asking again for its lease), `context` (what a strategy is
handed), `dry_run`, `undo` (temporary steps switched back once healthy), `background` (the
tasks it starts).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from loguru import logger

from supervisor.clients.docker import DockerClient
from supervisor.clients.http import HttpClient
from supervisor.clients.redis import RedisConnections
from supervisor.config.services import RecoveryDefaults, ServiceConfigBase
from supervisor.core.events import Event, EventBus
from supervisor.core.redaction import redact_text
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import State, StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.recovery.background import BackgroundTasks
from supervisor.recovery.breaker import Breakers
from supervisor.recovery.context import StrategyContexts
from supervisor.recovery.dependencies import Dependencies
from supervisor.recovery.dry_run import dry_run_plan
from supervisor.recovery.interrupted import InterruptedRecoveries
from supervisor.recovery.journal import RecoveryJournal, new_run_id
from supervisor.recovery.lease_wait import LeaseWaits
from supervisor.recovery.locks import Denied, LocalLock, RecoveryLock
from supervisor.recovery.pause import Pauses
from supervisor.recovery.plan import ServicePlan, backoff_delay_s
from supervisor.recovery.run import RecoveryRefused, RecoveryRun, utc_clock
from supervisor.recovery.runner import RecoveryRunner
from supervisor.recovery.saved_state import RecoveryStateStore, ServiceRecord
from supervisor.recovery.undo import undo_temporary_steps
from supervisor.store.database import Store


class RecoveryManager:
    def __init__(self, *, bus: EventBus, tracker: StateTracker, scheduler: Scheduler,
                 store: Store, processes: ProcessManager, auto_enabled: bool,
                 data_dir: str, http: HttpClient, lock: RecoveryLock | None = None,
                 docker: DockerClient | None = None) -> None:
        self.bus = bus
        self.tracker = tracker
        self.scheduler = scheduler
        self.processes = processes
        self.auto_enabled = auto_enabled
        self.data_dir = data_dir
        self.http = http
        self.docker = docker
        self.lock: RecoveryLock = lock or LocalLock()
        self.defaults = RecoveryDefaults()
        self.plans: dict[str, ServicePlan] = {}
        self.redis = RedisConnections()
        self.journal = RecoveryJournal(store)
        self.breakers = Breakers(tracker, bus, RecoveryStateStore(store))
        self.dependencies = Dependencies(tracker, scheduler)
        self.dependencies.plans = self.plans
        self.contexts = StrategyContexts(
            tracker=tracker, scheduler=scheduler, processes=processes, http=http,
            redis=self.redis, docker=docker, data_dir=data_dir, plans=self.plans)
        self.runner = RecoveryRunner(
            tracker=tracker, bus=bus, scheduler=scheduler, processes=processes,
            journal=self.journal, breakers=self.breakers, lock=self.lock, plans=self.plans,
            context=lambda run, service, attempt: self.contexts.build(run, service, attempt))
        self.background = BackgroundTasks()
        self.pauses = Pauses(tracker=tracker, bus=bus, scheduler=scheduler,
                             processes=processes, breakers=self.breakers, journal=self.journal,
                             runner=self.runner, plans=self.plans, spawn=self.background.spawn)
        self.interrupted = InterruptedRecoveries(store)
        self.leases = LeaseWaits(tracker=tracker, lock=self.lock, active=self.runner.active,
                                 when_free=self._auto)
        self._waiting: set[str] = set()  # services with a deferred re-check pending
        self._up_at: dict[str, float] = {}  # monotonic time each service was last seen up
        tracker.in_startup_grace = lambda name: name in self.plans and self._grace_left(name) > 0

    # -- what the API and the daemon read ----------------------------------------------------
    @property
    def active(self) -> Mapping[str, RecoveryRun]:
        """The recovery in flight of each service that has one."""
        return self.runner.active

    @property
    def runs(self) -> OrderedDict[str, RecoveryRun]:
        return self.journal.runs

    @property
    def records(self) -> dict[str, ServiceRecord]:
        return self.breakers.records

    def record(self, service: str) -> ServiceRecord:
        return self.breakers.record(service)

    def dependents_of(self, name: str) -> list[str]:
        return self.dependencies.dependents_of(name)

    def is_shared(self, name: str) -> bool:
        """A service several cluster nodes watch (`shared: true`)."""
        plan = self.plans.get(name)
        return plan is not None and plan.shared

    # -- configuration ----------------------------------------------------------------------
    def configure(self, services: Mapping[str, ServiceConfigBase],
                  defaults: RecoveryDefaults) -> None:
        self.defaults = self.breakers.defaults = defaults
        self.runner.configure(defaults)
        # In place: the runner, the pauses and a reload that keeps a plan in flight share it.
        self.plans.clear()
        self.plans.update({name: ServicePlan.build(name, svc, defaults)
                           for name, svc in services.items()})

    async def load(self) -> None:
        """Restore breakers, backoff levels and pauses from the store (daemon start); close
        the recoveries an earlier boot left unfinished."""
        try:
            await self.interrupted.close_unfinished()
        except Exception:
            logger.exception("cannot close the recoveries left unfinished by the last run")
        try:
            await self.breakers.load()
        except Exception:
            logger.exception("cannot load the recovery state; starting with closed breakers")
            return
        for name, rec in self.records.items():
            if rec.paused and name in self.tracker.services:
                self.pauses.restore(name, rec.paused)
            if rec.breaker_open:
                logger.warning("{}: circuit breaker still open from before the restart ({})",
                               name, rec.reason)

    # -- reacting to state changes ----------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        if event.type != "state_changed" or event.service is None:
            return
        service = event.service
        state, previous = State(event.data["state"]), State(event.data["previous"])
        if state is State.FAILING:
            await self.breakers.failing(service, event.at)
            if self.auto_enabled:
                self.background.spawn(self._auto(service))
        elif state.is_up and not previous.is_up:
            self._up_at[service] = time.monotonic()
            await self.breakers.up_again(service, event.at, event.correlation_id)
            self.background.spawn(self.lock.healthy(service, shared=self.is_shared(service)))
            self.background.spawn(undo_temporary_steps(
                service, self.plans, contexts=self.contexts, journal=self.journal, bus=self.bus))
            if self.interrupted.pending(service):
                self.background.spawn(self.interrupted.incident_ended(
                    service, self.active.get(service), list(self.runs.values())))
            if previous.is_down:
                for dependent in self.dependents_of(service):
                    st = self.tracker.services.get(dependent)
                    if st is not None and st.state is State.FAILING:
                        self.background.spawn(self._recheck_dependent(dependent))

    async def recover_resumed(self, service: str) -> None:
        """A service whose incident resumed after a daemon restart and still fails: treated as
        freshly failing, so a process that resume adopted or started gets its startup grace
        and its checks decide again right before anything is done."""
        await self._auto(service)

    async def _auto(self, service: str) -> None:
        """An automatic recovery for a service that was just declared failing."""
        if service not in self.plans:
            return
        left = self._grace_left(service)
        if left > 0:
            self._skip_note(service, f"starting up: {left:.1f} s of its startup grace left; "
                                     "checking again after it")
            self.background.spawn(self._after_grace(service, left))
            return
        suspect = await self.dependencies.recheck(service)
        st = self.tracker.services.get(service)
        if st is None or st.state is not State.FAILING:
            return
        if suspect is not None and self.dependencies.failing(service) is None:
            dep, why = suspect
            self._skip_note(service, f"waiting for dependency {dep}: its check fails too "
                                     f"({why})", caused_by=dep)
            self.background.spawn(self._wait_for_dependencies(service))
            return
        try:
            await self.request(service, "auto", requested_by="auto")
        except RecoveryRefused as exc:
            logger.info("{}: no automatic recovery: {}", service, exc)

    def _grace_left(self, service: str) -> float:
        """Seconds left of the startup grace of a process started recently, still alive and
        not yet seen up (once it passed its checks, it has booted)."""
        plan = self.plans[service]
        started = self.processes.started_at.get(service)
        if started is None or self.processes.pid_of(service, None) is None \
                or self._up_at.get(service, 0.0) >= started:
            return 0.0
        return plan.startup_grace_ms / 1000 - (time.monotonic() - started)

    async def _after_grace(self, service: str, delay: float) -> None:
        if service in self._waiting:
            return
        self._waiting.add(service)
        try:
            await asyncio.sleep(delay)
            await self.scheduler.run_service(service)
        finally:
            self._waiting.discard(service)
        st = self.tracker.services.get(service)
        if st is not None and st.state is State.FAILING:
            await self._auto(service)

    def _skip_note(self, service: str, reason: str, caused_by: str | None = None) -> None:
        logger.info("{}: no recovery now: {}", service, reason)
        st = self.tracker.services.get(service)
        self.bus.publish("recovery_skipped", service, st.correlation_id if st else None,
                         reason=reason, causedBy=caused_by)

    async def _wait_for_dependencies(self, service: str) -> None:
        """A dependent held back by a dependency: try again once every dependency is up, or
        once the dependency's failure turned out to be a blip (no state change to react to)."""
        if service in self._waiting:
            return
        self._waiting.add(service)
        try:
            while True:
                await asyncio.sleep(1.0)
                st = self.tracker.services.get(service)
                if st is None or st.state is not State.FAILING or service in self.active:
                    return
                if self.dependencies.all_up(service):
                    break
        finally:
            self._waiting.discard(service)
        await self._recheck_dependent(service)

    async def _recheck_dependent(self, name: str) -> None:
        await self.scheduler.run_service(name)
        st = self.tracker.services.get(name)
        if st is not None and st.state is State.FAILING and self.auto_enabled:
            await self._auto(name)

    # -- requests ---------------------------------------------------------------------------
    async def request(self, service: str, action: str = "auto", *, requested_by: str,
                      force: bool = False, dry_run: bool = False) -> tuple[RecoveryRun, bool]:
        """Start (or join) a recovery; returns the run and whether it was already running."""
        if service not in self.plans:
            raise KeyError(service)
        plan = self.plans[service]
        steps = plan.steps_for(service, action)
        st = self.tracker.get(service)
        rec = self.record(service)
        run = RecoveryRun(id=new_run_id(), service=service, action=action,
                          requested_by=requested_by, force=force, dry_run=dry_run,
                          correlation_id=st.correlation_id,
                          detected_at=st.since if st.state is State.FAILING else None)
        run.plan = [{"strategy": s.name, "attempts": c.attempts or plan.max_attempts,
                     "does": redact_text(s.plan())} for c, s in steps]
        if dry_run:
            await dry_run_plan(run, steps, contexts=self.contexts, journal=self.journal)
            return run, False
        if service in self.active:
            return self.active[service], True
        delay = 0.0
        if action != "auto" and not force and rec.breaker_open:
            await self._skip(run, f"circuit breaker open since {utc_clock(rec.opened_at)}: "
                                  f"{rec.reason}; send force: true to recover anyway", None)
            return run, False
        if action == "auto" and not force:
            reason = self._refusal(service, st.state)
            if reason is not None:
                dep = self.dependencies.failing(service)
                await self._skip(run, reason, dep)
                if dep is not None:
                    self.background.spawn(self._wait_for_dependencies(service))
                return run, False
            if rec.breaker_open:
                msg = f"circuit breaker open since {utc_clock(rec.opened_at)}: {rec.reason}"
                await self._skip(run, msg, None)
                self.breakers.give_up(service, msg, run, breaker="still open")
                return run, False
            if self.breakers.flapping(service):
                window_min = self.defaults.flap_window / 60000
                msg = (f"flapping: {self.defaults.flap_max_recoveries} recoveries within "
                       f"{window_min:g} min; automatic recovery stopped")
                await self._skip(run, msg, None)
                await self.breakers.open(service, msg, run)
                await self.lock.gave_up(service, msg, shared=plan.shared)
                return run, False
            delay = backoff_delay_s(rec.level, self.defaults, plan.backoff_multiplier)
            if delay:
                run.plan.insert(0, {"strategy": "wait", "delayMs": round(delay * 1000),
                                    "does": f"wait {delay:.1f} s: recovery {rec.level + 1} "
                                            "in a row without a stable healthy period"})
        self.runner.active[service] = run  # reserved before any await: one per service
        grant = await self.lock.acquire(service, run.id, shared=plan.shared, force=force)
        if isinstance(grant, Denied):
            del self.runner.active[service]
            self.leases.denied(service, grant.reason)
            await self._skip(run, grant.reason, None)
            if grant.wait and action == "auto":
                self.background.spawn(self.leases.wait(service))
            return run, False
        self.leases.granted(service)
        await self.journal.save(run, insert=True)
        self.runner.start(run, steps, delay, grant)
        return run, False

    def lease_status(self) -> dict[str, Any]:
        """The lock's state and the services waiting for a lease (status, `leases`)."""
        return self.leases.status()

    async def _skip(self, run: RecoveryRun, reason: str, caused_by: str | None) -> None:
        logger.info("{}: recovery skipped: {}", run.service, reason)
        run.status, run.message, run.finished_at = "skipped", reason, time.time()
        await self.journal.save(run, insert=True)
        self.bus.publish("recovery_skipped", run.service, run.correlation_id, id=run.id,
                         reason=reason, causedBy=caused_by)

    def _refusal(self, service: str, state: State) -> str | None:
        if state is State.GAVE_UP:
            return "service was given up on; use force to recover it"
        if state is State.MAINTENANCE:
            return "service is paused for maintenance"
        dep = self.dependencies.failing(service)
        if dep is not None:
            dst = self.tracker.get(dep)
            return (f"waiting for dependency {dep} to recover ({dep} is {dst.state}: "
                    f"{dst.last_failure.message if dst.last_failure else 'down'})")
        return None

    # -- pause / maintenance ----------------------------------------------------------------
    async def pause(self, service: str, *, by: str, reason: str = "", stop: bool = False,
                    duration_ms: float | None = None) -> dict[str, Any]:
        """A planned stop: no checks count, no recovery runs, and it is not a failure."""
        return await self.pauses.pause(service, by=by, reason=reason, stop=stop,
                                       duration_ms=duration_ms)

    async def resume(self, service: str, *, by: str) -> dict[str, Any]:
        return await self.pauses.resume(service, by=by)

    # -- stopping ---------------------------------------------------------------------------
    async def stop(self) -> None:
        await self.background.cancel_all()
        await self.runner.stop()
        await self.redis.close()
        await self.lock.close()
