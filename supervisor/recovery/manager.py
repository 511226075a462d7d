"""The recovery manager: turns a failing service into a ladder of verified repair attempts.

Each step of a service's ladder gets its attempts with exponential backoff and jitter
(tenacity, one AsyncRetrying per run). Every attempt is verified by checking again, within a
startup grace. Automatic recoveries that follow each other without a stable healthy period
start later and later (the backoff level, reset after `resetAfter` of health). A circuit
breaker opens when the ladder is exhausted or when a service flaps: the service goes to
`gave_up`, is probed slowly, and the breaker closes by itself once it is healthy again.
Breaker, backoff and pauses are in the store (recovery_state.py), so they survive a restart.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from loguru import logger
from tenacity import (
    AsyncRetrying,
    retry_if_result,
    stop_after_attempt,
    wait_exponential,
    wait_none,
    wait_random,
)

import recovery_strategies
from recovery_strategies.base import RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.clients.redis import RedisConnections
from supervisor.config.services import RESTART_STRATEGIES, RecoveryDefaults
from supervisor.core.events import Event, EventBus
from supervisor.core.redaction import redact_text
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import State, StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.processes.spec import ProcessSpec
from supervisor.recovery.locks import LocalLock, RecoveryLock
from supervisor.recovery.saved_state import RecoveryStateStore, ServiceRecord
from supervisor.store.database import Store

ACTIONS: dict[str, frozenset[str] | None] = {
    "restart_service": RESTART_STRATEGIES,
    "reconnect_redis": frozenset({"reconnect_redis"}),
    "retry_failed": frozenset({"retry_failed"}),
    "run_ladder": None,  # the service's whole ladder, as an automatic recovery would run it
}
# Actions that work on any service: without such a step in its ladder, one is made up.
IMPLICIT_STEPS = ("retry_failed", "reconnect_redis")
STRATEGY_TIMEOUT_S = 120.0
DRY_RUN_TIMEOUT_S = 10.0
VERIFY_POLL_S = 0.25
OUTPUT_LIMIT = 2000


class RecoveryRefused(Exception):
    """The request cannot be served (not applicable to the service); the text says why."""


@dataclass
class RecoveryRun:
    id: str
    service: str
    action: str
    requested_by: str
    force: bool = False
    dry_run: bool = False
    status: str = "queued"  # queued running succeeded failed skipped dry_run interrupted done
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    correlation_id: str | None = None
    message: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    detected_at: float | None = None  # when the failure this run answers was declared

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.created_at) * 1000)

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "action": self.action,
                "requested_by": self.requested_by, "force": int(self.force),
                "dry_run": int(self.dry_run), "status": self.status,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "duration_ms": self.duration_ms, "correlation_id": self.correlation_id,
                "message": self.message, "attempts": self.attempts, "plan": self.plan,
                "detected_at": self.detected_at}


def recovery_to_api(row: dict[str, Any]) -> dict[str, Any]:
    """A stored recovery row in the API's camelCase shape."""
    detected = row.get("detected_at")
    attempts = row["attempts"] or []
    first = attempts[0].get("startedAt") if attempts else None
    return {"id": row["id"], "service": row["service"], "action": row["action"],
            "requestedBy": row["requested_by"], "force": bool(row["force"]),
            "dryRun": bool(row["dry_run"]), "status": row["status"],
            "createdAt": row["created_at"], "finishedAt": row["finished_at"],
            "durationMs": row["duration_ms"], "correlationId": row["correlation_id"],
            "message": row["message"], "attempts": attempts, "plan": row["plan"],
            "detectedAt": detected,
            "actionDelayMs": round((first - detected) * 1000)
            if detected is not None and first is not None else None}


@dataclass
class ServicePlan:
    """What the manager needs to know of one service."""

    steps: list[tuple[StrategyConfig, RecoveryStrategy]]
    auto_restart: bool
    depends_on: list[str]
    max_attempts: int
    backoff_multiplier: float
    process_spec: ProcessSpec | None = None
    startup_grace_ms: float = 15000


def backoff_delay_s(level: int, d: RecoveryDefaults, multiplier: float) -> float:
    """Wait before an automatic recovery that follows `level` others without a stable healthy
    period: 0, then initialDelay × multiplier^(level-1), capped at maxDelay, plus jitter."""
    if level <= 0:
        return 0.0
    base = min(d.max_delay, d.initial_delay * multiplier ** (level - 1)) / 1000
    return base + random.uniform(0, d.jitter * base)


class RecoveryManager:
    def __init__(self, *, bus: EventBus, tracker: StateTracker, scheduler: Scheduler,
                 store: Store, processes: ProcessManager, auto_enabled: bool,
                 data_dir: str, lock: RecoveryLock | None = None) -> None:
        self.bus = bus
        self.tracker = tracker
        self.scheduler = scheduler
        self.store = store
        self.processes = processes
        self.auto_enabled = auto_enabled
        self.data_dir = data_dir
        self.lock: RecoveryLock = lock or LocalLock()
        self.defaults = RecoveryDefaults()
        self.plans: dict[str, ServicePlan] = {}
        self.active: dict[str, RecoveryRun] = {}
        self.runs: OrderedDict[str, RecoveryRun] = OrderedDict()
        self.records: dict[str, ServiceRecord] = {}
        self.redis = RedisConnections()
        self._persist = RecoveryStateStore(store)
        self._slots = asyncio.Semaphore(self.defaults.max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()
        self._run_tasks: dict[str, asyncio.Task[None]] = {}
        self._waiting: set[str] = set()  # services with a deferred re-check pending
        self._up_at: dict[str, float] = {}  # monotonic time each service was last seen up
        tracker.in_startup_grace = lambda name: name in self.plans and self._grace_left(name) > 0

    # -- configuration ----------------------------------------------------------------------
    def configure(self, services: dict[str, Any], defaults: RecoveryDefaults) -> None:
        if defaults.max_concurrent != self.defaults.max_concurrent:
            self._slots = asyncio.Semaphore(defaults.max_concurrent)
        self.defaults = defaults
        self.plans = {}
        for name, svc in services.items():
            steps = []
            for step in svc.ladder:
                cls = recovery_strategies.registry.get(step.strategy)
                steps.append((step, cls(step, name)))
            self.plans[name] = ServicePlan(
                steps=steps, auto_restart=svc.auto_restart, depends_on=list(svc.depends_on),
                max_attempts=svc.max_attempts or defaults.max_attempts,
                backoff_multiplier=svc.backoff_multiplier or defaults.backoff_multiplier,
                process_spec=svc.restart,
                startup_grace_ms=getattr(svc, "startup_grace", None) or defaults.startup_grace)

    async def load(self) -> None:
        """Restore breakers, backoff levels and pauses from the store (daemon start)."""
        try:
            self.records.update(await self._persist.load())
        except Exception:
            logger.exception("cannot load the recovery state; starting with closed breakers")
            return
        for name, rec in self.records.items():
            if rec.paused and name in self.tracker.services:
                self.tracker.set_state(name, State.MAINTENANCE,
                                       f"paused by {rec.paused.get('by')}: "
                                       f"{rec.paused.get('reason') or 'no reason given'}")
                until = rec.paused.get("until")
                if until:
                    self._spawn(self._resume_at(name, float(until)))
            if rec.breaker_open:
                logger.warning("{}: circuit breaker still open from before the restart ({})",
                               name, rec.reason)

    def record(self, service: str) -> ServiceRecord:
        rec = self.records.get(service)
        if rec is None:
            rec = self.records[service] = ServiceRecord(service)
        return rec

    async def _save_record(self, rec: ServiceRecord) -> None:
        try:
            await self._persist.save(rec)
        except Exception:
            logger.exception("cannot store the recovery state of {}", rec.service)

    def dependents_of(self, name: str) -> list[str]:
        return [n for n, p in self.plans.items() if name in p.depends_on]

    def _steps(self, service: str, action: str) -> list[tuple[StrategyConfig, RecoveryStrategy]]:
        plan = self.plans[service]
        if action == "auto":
            return [(c, s) for c, s in plan.steps
                    if plan.auto_restart or s.name not in RESTART_STRATEGIES]
        allowed = ACTIONS[action]
        steps = [(c, s) for c, s in plan.steps if allowed is None or s.name in allowed]
        if not steps and action in IMPLICIT_STEPS:
            cls = recovery_strategies.registry.get(action)
            cfg = cls.config_model.model_validate({"strategy": action})
            steps = [(cfg, cls(cfg, service))]
        if not steps:
            raise RecoveryRefused(f"service {service!r} has no step for {action} "
                                  f"(its ladder: {[s.name for _, s in plan.steps] or 'empty'})")
        return steps

    def _context(self, run: RecoveryRun | None, service: str, attempt: int = 1,
                 dry_run: bool = False) -> RecoveryContext:
        plan = self.plans.get(service)

        def state_of(name: str) -> str | None:
            st = self.tracker.services.get(name)
            return str(st.state) if st is not None else None

        async def reset_own() -> list[str]:
            rt = self.scheduler.services.get(service)
            closed = []
            for check in rt.checks if rt is not None else []:
                await check.close()
                closed.append(check.name)
            return closed

        return RecoveryContext(
            service=service, correlation_id=(run.correlation_id if run else None) or "",
            processes=self.processes, attempt=attempt, dry_run=dry_run,
            data_dir=self.data_dir, process_spec=plan.process_spec if plan else None,
            state_of=state_of, redis=self.redis, reset_own_connections=reset_own)

    # -- reacting to state changes ----------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        if event.type != "state_changed" or event.service is None:
            return
        service = event.service
        state, previous = State(event.data["state"]), State(event.data["previous"])
        rec = self.record(service)
        if state is State.FAILING:
            reset_ms = self.defaults.reset_after
            if rec.level and rec.healthy_since is not None \
                    and (event.at - rec.healthy_since) * 1000 >= reset_ms:
                logger.info("{}: healthy for {:.0f} s before failing; backoff starts anew",
                            service, event.at - rec.healthy_since)
                rec.level = 0
            rec.healthy_since = None
            await self._save_record(rec)
            if self.auto_enabled:
                self._spawn(self._auto(service))
        elif state.is_up and not previous.is_up:
            self._up_at[service] = time.monotonic()
            rec.healthy_since = event.at
            if rec.breaker_open:
                rec.breaker_open, rec.opened_at = False, None
                self.bus.publish("breaker_closed", service, event.correlation_id,
                                 reason=f"healthy again; breaker opened for: {rec.reason}")
                logger.info("{}: healthy again; circuit breaker closed", service)
                rec.reason = ""
            await self._save_record(rec)
            self._spawn(self._undo_temporary_steps(service))
            if previous.is_down:
                for dependent in self.dependents_of(service):
                    st = self.tracker.services.get(dependent)
                    if st is not None and st.state is State.FAILING:
                        self._spawn(self._recheck_dependent(dependent))

    async def _auto(self, service: str) -> None:
        """An automatic recovery for a service that was just declared failing."""
        if service not in self.plans:
            return
        left = self._grace_left(service)
        if left > 0:
            self._skip_note(service, f"starting up: {left:.1f} s of its startup grace left; "
                                     "checking again after it")
            self._spawn(self._after_grace(service, left))
            return
        suspect = await self._recheck_dependencies(service)
        st = self.tracker.services.get(service)
        if st is None or st.state is not State.FAILING:
            return
        if suspect is not None and self._failing_dependency(service) is None:
            dep, why = suspect
            self._skip_note(service, f"waiting for dependency {dep}: its check fails too "
                                     f"({why})", caused_by=dep)
            self._spawn(self._wait_for_dependencies(service))
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

    async def _recheck_dependencies(self, service: str) -> tuple[str, str] | None:
        """Fresh evidence before acting: a dependency that looks up may just not have been
        checked since it broke (the dependent noticed first). Returns a dependency whose
        fresh check failed, even if below its own threshold, with the failure."""
        suspect = None
        for dep in self._all_dependencies(service):
            st = self.tracker.services.get(dep)
            if st is None or st.state.is_down or st.state is State.MAINTENANCE:
                continue
            results = await self.scheduler.run_service(dep)
            failed = next((r for r in results if not r.ok and r.check_type), None)
            if failed is not None and suspect is None:
                suspect = (dep, failed.message or str(failed.kind))
        return suspect

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
                deps = [self.tracker.services.get(d) for d in self._all_dependencies(service)]
                if all(d is None or (d.state.is_up and all(r.ok for r in d.last_results))
                       for d in deps):
                    break
        finally:
            self._waiting.discard(service)
        await self._recheck_dependent(service)

    def _all_dependencies(self, service: str) -> list[str]:
        seen: list[str] = []
        todo = list(self.plans[service].depends_on) if service in self.plans else []
        while todo:
            dep = todo.pop(0)
            if dep in seen or dep == service:
                continue
            seen.append(dep)
            todo.extend(self.plans[dep].depends_on if dep in self.plans else [])
        return seen

    async def _recheck_dependent(self, name: str) -> None:
        await self.scheduler.run_service(name)
        st = self.tracker.services.get(name)
        if st is not None and st.state is State.FAILING and self.auto_enabled:
            await self._auto(name)

    async def _undo_temporary_steps(self, service: str) -> None:
        """Healthy again: let steps like failover switch back, and store what they did."""
        plan = self.plans.get(service)
        for _config, strategy in plan.steps if plan else []:
            try:
                outcome = await strategy.on_healthy(self._context(None, service))
            except Exception as exc:
                logger.exception("{}: {} could not undo its change", service, strategy.name)
                outcome = None
                message = f"{strategy.name} crashed undoing its change: {exc!r}"
                await self._store_action(service, "undo_" + strategy.name, "auto", "failed",
                                         message)
            if outcome is None:
                continue
            status = "succeeded" if outcome.ok else "failed"
            await self._store_action(service, "undo_" + strategy.name, "auto", status,
                                     outcome.message, outcome.output)
            self.bus.publish("recovery_undone", service, None, strategy=strategy.name,
                             ok=outcome.ok, message=outcome.message)

    # -- requests ---------------------------------------------------------------------------
    async def request(self, service: str, action: str = "auto", *, requested_by: str,
                      force: bool = False, dry_run: bool = False) -> tuple[RecoveryRun, bool]:
        """Start (or join) a recovery; returns the run and whether it was already running."""
        if service not in self.plans:
            raise KeyError(service)
        steps = self._steps(service, action)
        st = self.tracker.get(service)
        rec = self.record(service)
        plan = self.plans[service]
        run = RecoveryRun(id="RC_" + secrets.token_hex(4), service=service, action=action,
                          requested_by=requested_by, force=force, dry_run=dry_run,
                          correlation_id=st.correlation_id,
                          detected_at=st.since if st.state is State.FAILING else None)
        run.plan = [{"strategy": s.name, "attempts": c.attempts or plan.max_attempts,
                     "does": redact_text(s.plan())} for c, s in steps]
        if dry_run:
            await self._dry_run(run, steps)
            return run, False
        if service in self.active:
            return self.active[service], True
        delay = 0.0
        if action != "auto" and not force and rec.breaker_open:
            await self._skip(run, f"circuit breaker open since {_clock(rec.opened_at)}: "
                                  f"{rec.reason}; send force: true to recover anyway", None)
            return run, False
        if action == "auto" and not force:
            reason = self._refusal(service, st.state)
            if reason is not None:
                dep = self._failing_dependency(service)
                await self._skip(run, reason, dep)
                if dep is not None:
                    self._spawn(self._wait_for_dependencies(service))
                return run, False
            if rec.breaker_open:
                msg = f"circuit breaker open since {_clock(rec.opened_at)}: {rec.reason}"
                await self._skip(run, msg, None)
                self._give_up(service, msg, run, breaker="still open")
                return run, False
            if self._flapping(service):
                window_min = self.defaults.flap_window / 60000
                msg = (f"flapping: {self.defaults.flap_max_recoveries} recoveries within "
                       f"{window_min:g} min; automatic recovery stopped")
                await self._skip(run, msg, None)
                await self._open_breaker(service, msg, run)
                return run, False
            delay = backoff_delay_s(rec.level, self.defaults, plan.backoff_multiplier)
            if delay:
                run.plan.insert(0, {"strategy": "wait", "delayMs": round(delay * 1000),
                                    "does": f"wait {delay:.1f} s: recovery {rec.level + 1} "
                                            "in a row without a stable healthy period"})
        self.active[service] = run  # reserved before any await: one recovery per service
        if not await self.lock.acquire(service, run.id):
            del self.active[service]
            await self._skip(run, "another host or task holds this service's recovery", None)
            return run, False
        await self._save(run, insert=True)
        task = asyncio.create_task(self._execute(run, steps, delay))
        self._tasks.add(task)
        self._run_tasks[service] = task
        task.add_done_callback(self._tasks.discard)
        return run, False

    async def _dry_run(self, run: RecoveryRun, steps: list[tuple[StrategyConfig,
                                                                  RecoveryStrategy]]) -> None:
        """Each strategy says what it would do now, without doing it."""
        for entry, (_config, strategy) in zip(run.plan, steps, strict=True):
            ctx = self._context(run, run.service, dry_run=True)
            try:
                outcome = await asyncio.wait_for(strategy.run(ctx), DRY_RUN_TIMEOUT_S)
                entry["would"] = redact_text(outcome.message)
                entry["applicable"] = outcome.ok
                if outcome.output:
                    entry["output"] = redact_text(outcome.output[-OUTPUT_LIMIT:])
            except Exception as exc:
                entry["would"] = f"cannot plan: {exc!r}"
                entry["applicable"] = False
        run.status, run.finished_at = "dry_run", time.time()
        run.message = "dry run: nothing was done"
        await self._save(run, insert=True)

    async def _skip(self, run: RecoveryRun, reason: str, caused_by: str | None) -> None:
        logger.info("{}: recovery skipped: {}", run.service, reason)
        run.status, run.message, run.finished_at = "skipped", reason, time.time()
        await self._save(run, insert=True)
        self.bus.publish("recovery_skipped", run.service, run.correlation_id, id=run.id,
                         reason=reason, causedBy=caused_by)

    def _refusal(self, service: str, state: State) -> str | None:
        if state is State.GAVE_UP:
            return "service was given up on; use force to recover it"
        if state is State.MAINTENANCE:
            return "service is paused for maintenance"
        dep = self._failing_dependency(service)
        if dep is not None:
            dst = self.tracker.get(dep)
            return (f"waiting for dependency {dep} to recover ({dep} is {dst.state}: "
                    f"{dst.last_failure.message if dst.last_failure else 'down'})")
        return None

    def _failing_dependency(self, service: str) -> str | None:
        for dep in self._all_dependencies(service):
            st = self.tracker.services.get(dep)
            if st is not None and st.state.is_down:
                return dep
        return None

    def _flapping(self, service: str) -> bool:
        rec = self.record(service)
        cutoff = time.time() - self.defaults.flap_window / 1000
        rec.recoveries = [t for t in rec.recoveries if t >= cutoff]
        return len(rec.recoveries) >= self.defaults.flap_max_recoveries

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.opt(exception=task.exception()).error("recovery task {} failed",
                                                         task.get_coro())

    # -- execution --------------------------------------------------------------------------
    async def _execute(self, run: RecoveryRun, steps: list[tuple[StrategyConfig,
                                                                  RecoveryStrategy]],
                       delay: float = 0.0) -> None:
        service = run.service
        try:
            async with self._slots:
                run.status = "running"
                self.tracker.set_state(service, State.RECOVERING, f"recovery {run.id} started")
                run.correlation_id = self.tracker.get(service).correlation_id
                await self._save(run)
                self.bus.publish("recovery_started", service, run.correlation_id, id=run.id,
                                 action=run.action, requestedBy=run.requested_by,
                                 plan=run.plan, delayMs=round(delay * 1000))
                if delay:
                    await asyncio.sleep(delay)
                ok = False
                for config, strategy in steps:
                    ok = await self._step(run, config, strategy)
                    if ok:
                        break
                run.finished_at = time.time()
                if ok:
                    run.status = "succeeded"
                    last = run.attempts[-1] if run.attempts else {}
                    run.message = f"recovered by {last.get('strategy', '?')} " \
                                  f"(attempt {last.get('attempt', '?')})"
                    if run.requested_by == "auto":
                        rec = self.record(service)
                        rec.recoveries.append(time.time())
                        rec.level += 1
                        await self._save_record(rec)
                else:
                    run.status = "failed"
                    if steps:
                        run.message = f"recovery failed after {len(run.attempts)} attempt(s)"
                    else:  # nothing may act on it automatically: say so, not "0 attempts"
                        run.message = ("no automatic recovery step applies to this service "
                                       "(no restart command, unit or other step in its "
                                       "ladder, or autoRestart is false): a human is needed")
                    await self._open_breaker(service, run.message, run)
        except asyncio.CancelledError:
            run.status, run.finished_at = "interrupted", time.time()
            run.message = run.message or "interrupted by shutdown"
            raise
        except Exception as exc:
            logger.exception("recovery {} of {} crashed", run.id, service)
            run.status, run.finished_at = "failed", time.time()
            run.message = f"recovery crashed: {exc!r}"
        finally:
            if self.active.get(service) is run:
                del self.active[service]
            if self._run_tasks.get(service) is asyncio.current_task():
                del self._run_tasks[service]
            await self.lock.release(service, run.id)
            await asyncio.shield(self._save(run))
            self.bus.publish("recovery_finished", service, run.correlation_id, id=run.id,
                             status=run.status, message=run.message, attempts=run.attempts,
                             durationMs=run.duration_ms, requestedBy=run.requested_by)

    async def _step(self, run: RecoveryRun, config: StrategyConfig,
                    strategy: RecoveryStrategy) -> bool:
        plan = self.plans[run.service]
        attempts = config.attempts or plan.max_attempts
        d = self.defaults
        if run.force:
            wait: Any = wait_none()
        else:
            wait = wait_exponential(multiplier=d.initial_delay / 1000,
                                    exp_base=plan.backoff_multiplier,
                                    max=d.max_delay / 1000)
            wait = wait + wait_random(0, d.jitter * d.initial_delay / 1000)
        retrying = AsyncRetrying(stop=stop_after_attempt(attempts), wait=wait,
                                 retry=retry_if_result(lambda ok: ok is not True),
                                 retry_error_callback=lambda _state: False)
        counter = iter(range(1, attempts + 1))

        async def attempt() -> bool:
            return await self._attempt(run, strategy, next(counter))

        result: bool = await retrying(attempt)
        return result

    async def _attempt(self, run: RecoveryRun, strategy: RecoveryStrategy, number: int) -> bool:
        service = run.service
        st = self.tracker.get(service)
        record: dict[str, Any] = {"strategy": strategy.name, "attempt": number,
                                  "startedAt": time.time(), "ran": redact_text(strategy.plan())}
        if number > 1 and st.state.is_up:  # healed while we waited
            record.update(ok=True, message="already healthy again", durationMs=0)
            run.attempts.append(record)
            return True
        ctx = self._context(run, service, attempt=number)
        started = time.monotonic()
        try:
            outcome = await asyncio.wait_for(strategy.run(ctx), STRATEGY_TIMEOUT_S)
            ok, message, output = outcome.ok, outcome.message, outcome.output
            details = outcome.details
        except TimeoutError:
            ok, message, output, details = False, f"{strategy.name} timed out", "", {}
        except Exception as exc:
            logger.exception("strategy {} failed for {}", strategy.name, service)
            ok, message, output, details = False, f"{strategy.name} crashed: {exc!r}", "", {}
        record["actionMs"] = round((time.monotonic() - started) * 1000)
        if ok and strategy.verifies_service:
            ok, verify_message = await self._verify(service, details.get("pid"))
            message = f"{message}; {verify_message}"
        elif ok:
            message = f"{message}; not verified: {strategy.name} does not heal {service} itself"
        record.update(ok=ok, message=redact_text(message),
                      output=redact_text(output[-OUTPUT_LIMIT:]),
                      durationMs=round((time.monotonic() - started) * 1000))
        run.attempts.append(record)
        await self._save(run)
        self.bus.publish("recovery_attempt", service, run.correlation_id, id=run.id, **record)
        logger.info("recovery {} of {}: {} attempt {} {}: {}", run.id, service, strategy.name,
                    number, "ok" if ok else "failed", record["message"])
        return ok

    async def _verify(self, service: str, pid: int | None) -> tuple[bool, str]:
        """Check again until the service is up, within the startup grace."""
        grace = self.plans[service].startup_grace_ms / 1000
        started = time.monotonic()
        deadline = started + grace
        while True:
            await self.scheduler.run_service(service)
            st = self.tracker.get(service)
            if st.state.is_up:
                return True, f"verified healthy after {time.monotonic() - started:.1f} s"
            if pid is not None and self.processes.pid_of(service, None) != pid:
                return False, f"process {pid} exited during startup"
            if time.monotonic() >= deadline:
                why = st.last_failure.message if st.last_failure else "still failing"
                return False, f"not healthy within the startup grace ({grace:g} s): {why}"
            await asyncio.sleep(VERIFY_POLL_S)

    async def _open_breaker(self, service: str, reason: str, run: RecoveryRun) -> None:
        rec = self.record(service)
        rec.breaker_open, rec.opened_at, rec.reason = True, time.time(), reason
        await self._save_record(rec)
        self._give_up(service, reason, run, breaker="opened")

    def _give_up(self, service: str, reason: str, run: RecoveryRun, breaker: str) -> None:
        self.tracker.set_state(service, State.GAVE_UP, reason, recovery=run.id)
        rec = self.record(service)
        self.bus.publish("gave_up", service, self.tracker.get(service).correlation_id,
                         reason=reason, recovery=run.id, attempts=run.attempts,
                         breaker=breaker, breakerOpenedAt=rec.opened_at)

    # -- pause / maintenance ----------------------------------------------------------------
    async def pause(self, service: str, *, by: str, reason: str = "", stop: bool = False,
                    duration_ms: float | None = None) -> dict[str, Any]:
        """A planned stop: no checks count, no recovery runs, and it is not a failure."""
        rec = self.record(service)
        task = self._run_tasks.get(service)
        run = self.active.get(service)
        if task is not None and run is not None:
            run.message = f"interrupted: {service} was paused by {by}"
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.tracker.set_state(service, State.MAINTENANCE,
                               f"paused by {by}: {reason or 'no reason given'}")
        stopped: list[int] = []
        spec = self.plans[service].process_spec if service in self.plans else None
        if stop and spec is not None:
            stopped = await self.processes.stop(service, spec)
        until = time.time() + duration_ms / 1000 if duration_ms else None
        rec.paused = {"by": by, "reason": reason, "at": time.time(), "until": until,
                      "stopped": bool(stopped)}
        await self._save_record(rec)
        message = f"paused by {by}" + (f": {reason}" if reason else "") + (
            f"; stopped pid {stopped[0]}" if stopped else "") + (
            f"; resumes at {_clock(until)}" if until else "")
        await self._store_action(service, "pause", by, "done", message)
        self.bus.publish("service_paused", service, None, by=by, reason=reason,
                         until=until, stopped=stopped)
        if until:
            self._spawn(self._resume_at(service, until))
        return rec.paused

    async def resume(self, service: str, *, by: str) -> dict[str, Any]:
        rec = self.record(service)
        paused = rec.paused or {}
        rec.paused = None
        await self._save_record(rec)
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
        await self._store_action(service, "resume", by, "done", message)
        self.bus.publish("service_resumed", service, None, by=by, started=started)
        self._spawn(self.scheduler.run_service(service))
        return {"resumedBy": by, "startedPid": started}

    async def _resume_at(self, service: str, until: float) -> None:
        await asyncio.sleep(max(0.0, until - time.time()))
        rec = self.records.get(service)
        if rec is not None and rec.paused and rec.paused.get("until") == until:
            await self.resume(service, by="maintenance window end")

    # -- storage ----------------------------------------------------------------------------
    async def _store_action(self, service: str, action: str, by: str, status: str,
                            message: str, output: str = "") -> None:
        """A one-shot action (pause, resume, undoing a failover) stored like a recovery."""
        now = time.time()
        run = RecoveryRun(id="RC_" + secrets.token_hex(4), service=service, action=action,
                          requested_by=by, status=status, created_at=now, finished_at=now,
                          message=redact_text(message))
        if output:
            run.attempts = [{"strategy": action, "attempt": 1, "startedAt": now,
                             "ok": status != "failed", "message": run.message,
                             "output": redact_text(output[-OUTPUT_LIMIT:]), "durationMs": 0}]
        await self._save(run, insert=True)

    async def _save(self, run: RecoveryRun, insert: bool = False) -> None:
        self.runs[run.id] = run
        while len(self.runs) > 500:
            self.runs.popitem(last=False)
        row = run.row()
        try:
            if insert:
                await self.store.insert_recovery(row)
            else:
                row.pop("id")
                await self.store.update_recovery(run.id, **row)
        except Exception:
            logger.exception("cannot store recovery {}", run.id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.close()
        close = getattr(self.lock, "close", None)
        if close is not None:
            await close()


def _clock(at: float | None) -> str:
    if at is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
