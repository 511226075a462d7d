"""The recovery manager: turns a failing service into a ladder of verified repair attempts.

Each step of a service's ladder gets its attempts with exponential backoff and jitter
(tenacity, one AsyncRetrying per run). Every attempt is verified by checking again, within a
startup grace. Repeated failure sends the service to `gave_up` instead of restarting forever.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict, deque
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
from supervisor.config import RESTART_STRATEGIES, RecoveryDefaults
from supervisor.events import Event, EventBus
from supervisor.locks import LocalLock, RecoveryLock
from supervisor.processes import ProcessManager
from supervisor.scheduler import Scheduler
from supervisor.state import State, StateTracker
from supervisor.store import Store

ACTIONS: dict[str, frozenset[str] | None] = {
    "restart_service": RESTART_STRATEGIES,
    "reconnect_redis": frozenset({"reconnect_redis"}),
    "retry_failed": frozenset({"retry_failed"}),
}
STRATEGY_TIMEOUT_S = 120.0
VERIFY_POLL_S = 0.25


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
    status: str = "queued"  # queued running succeeded failed skipped dry_run interrupted
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    correlation_id: str | None = None
    message: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

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
                "message": self.message, "attempts": self.attempts, "plan": self.plan}


def recovery_to_api(row: dict[str, Any]) -> dict[str, Any]:
    """A stored recovery row in the API's camelCase shape."""
    return {"id": row["id"], "service": row["service"], "action": row["action"],
            "requestedBy": row["requested_by"], "force": bool(row["force"]),
            "dryRun": bool(row["dry_run"]), "status": row["status"],
            "createdAt": row["created_at"], "finishedAt": row["finished_at"],
            "durationMs": row["duration_ms"], "correlationId": row["correlation_id"],
            "message": row["message"], "attempts": row["attempts"], "plan": row["plan"]}


@dataclass
class ServicePlan:
    """What the manager needs to know of one service."""

    steps: list[tuple[StrategyConfig, RecoveryStrategy]]
    auto_restart: bool
    depends_on: list[str]
    max_attempts: int
    backoff_multiplier: float


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
        self.history: dict[str, deque[float]] = {}
        self._slots = asyncio.Semaphore(self.defaults.max_concurrent)
        self._tasks: set[asyncio.Task[None]] = set()

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
                backoff_multiplier=svc.backoff_multiplier or defaults.backoff_multiplier)

    def dependents_of(self, name: str) -> list[str]:
        return [n for n, p in self.plans.items() if name in p.depends_on]

    def _steps(self, service: str, action: str) -> list[tuple[StrategyConfig, RecoveryStrategy]]:
        plan = self.plans[service]
        if action == "auto":
            return [(c, s) for c, s in plan.steps
                    if plan.auto_restart or s.name not in RESTART_STRATEGIES]
        allowed = ACTIONS[action]
        steps = [(c, s) for c, s in plan.steps if allowed is None or s.name in allowed]
        if not steps and action == "retry_failed":
            cls = recovery_strategies.registry.get("retry_failed")
            cfg = cls.config_model.model_validate({"strategy": "retry_failed"})
            steps = [(cfg, cls(cfg, service))]
        if not steps:
            raise RecoveryRefused(f"service {service!r} has no step for {action} "
                                  f"(its ladder: {[s.name for _, s in plan.steps] or 'empty'})")
        return steps

    # -- requests ---------------------------------------------------------------------------
    async def on_event(self, event: Event) -> None:
        if event.type != "state_changed" or event.service is None:
            return
        state = event.data.get("state")
        if state == State.FAILING and self.auto_enabled:
            await self.request(event.service, "auto", requested_by="auto")
        elif state in (State.HEALTHY, State.DEGRADED) and event.data.get("previous") in (
                State.FAILING, State.RECOVERING, State.GAVE_UP):
            for dependent in self.dependents_of(event.service):
                st = self.tracker.services.get(dependent)
                if st is not None and st.state is State.FAILING:
                    self._spawn(self._recheck_dependent(dependent))

    async def _recheck_dependent(self, name: str) -> None:
        await self.scheduler.run_service(name)
        st = self.tracker.services.get(name)
        if st is not None and st.state is State.FAILING and self.auto_enabled:
            await self.request(name, "auto", requested_by="auto")

    async def request(self, service: str, action: str = "auto", *, requested_by: str,
                      force: bool = False, dry_run: bool = False) -> tuple[RecoveryRun, bool]:
        """Start (or join) a recovery; returns the run and whether it was already running."""
        if service not in self.plans:
            raise KeyError(service)
        steps = self._steps(service, action)
        st = self.tracker.get(service)
        run = RecoveryRun(id="RC_" + secrets.token_hex(4), service=service, action=action,
                          requested_by=requested_by, force=force, dry_run=dry_run,
                          correlation_id=st.correlation_id)
        run.plan = [{"strategy": s.name, "attempts": c.attempts or self.plans[service].max_attempts,
                     "does": s.plan()} for c, s in steps]
        if dry_run:
            run.status, run.finished_at = "dry_run", time.time()
            run.message = "dry run: nothing was done"
            await self._save(run, insert=True)
            return run, False
        if service in self.active:
            return self.active[service], True
        reason = self._refusal(service, st.state, action, force)
        if reason is not None:
            run.status, run.message, run.finished_at = "skipped", reason, time.time()
            await self._save(run, insert=True)
            self.bus.publish("recovery_skipped", service, run.correlation_id, id=run.id,
                             reason=reason, causedBy=self._failing_dependency(service))
            return run, False
        if action == "auto" and self._flapping(service):
            window_min = self.defaults.flap_window / 60000
            msg = (f"flapping: {self.defaults.flap_max_recoveries} recoveries within "
                   f"{window_min:g} min; automatic recovery stopped")
            run.status, run.message, run.finished_at = "skipped", msg, time.time()
            await self._save(run, insert=True)
            self._give_up(service, msg, run)
            return run, False
        if not await self.lock.acquire(service, run.id):
            run.status, run.message, run.finished_at = "skipped", "held by another", time.time()
            await self._save(run, insert=True)
            return run, False
        self.active[service] = run
        await self._save(run, insert=True)
        self._spawn(self._execute(run, steps))
        return run, False

    def _refusal(self, service: str, state: State, action: str, force: bool) -> str | None:
        if action != "auto" or force:
            return None
        if state is State.GAVE_UP:
            return "service was given up on; use force to recover it"
        if state is State.MAINTENANCE:
            return "service is in maintenance"
        dep = self._failing_dependency(service)
        if dep is not None:
            return f"waiting for dependency {dep} to recover"
        return None

    def _failing_dependency(self, service: str) -> str | None:
        for dep in self.plans[service].depends_on:
            st = self.tracker.services.get(dep)
            if st is not None and st.state.is_down:
                return dep
        return None

    def _flapping(self, service: str) -> bool:
        window = self.defaults.flap_window / 1000
        times = self.history.setdefault(service, deque())
        now = time.monotonic()
        while times and now - times[0] > window:
            times.popleft()
        return len(times) >= self.defaults.flap_max_recoveries

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- execution --------------------------------------------------------------------------
    async def _execute(self, run: RecoveryRun, steps: list[tuple[StrategyConfig,
                                                                  RecoveryStrategy]]) -> None:
        service = run.service
        try:
            async with self._slots:
                run.status = "running"
                self.tracker.set_state(service, State.RECOVERING, f"recovery {run.id} started")
                run.correlation_id = self.tracker.get(service).correlation_id
                await self._save(run)
                self.bus.publish("recovery_started", service, run.correlation_id, id=run.id,
                                 action=run.action, requestedBy=run.requested_by,
                                 plan=run.plan)
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
                    self.history.setdefault(service, deque()).append(time.monotonic())
                else:
                    run.status = "failed"
                    run.message = f"recovery failed after {len(run.attempts)} attempt(s)"
                    self._give_up(service, run.message, run)
        except asyncio.CancelledError:
            run.status, run.finished_at = "interrupted", time.time()
            run.message = "interrupted by shutdown"
            raise
        except Exception as exc:
            logger.exception("recovery {} of {} crashed", run.id, service)
            run.status, run.finished_at = "failed", time.time()
            run.message = f"recovery crashed: {exc!r}"
        finally:
            self.active.pop(service, None)
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
                                  "startedAt": time.time()}
        if number > 1 and st.state.is_up:  # healed while we waited
            record.update(ok=True, message="already healthy again", durationMs=0)
            run.attempts.append(record)
            return True
        ctx = RecoveryContext(service=service, correlation_id=run.correlation_id or "",
                              processes=self.processes, attempt=number,
                              data_dir=self.data_dir)
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
        if ok:
            ok, verify_message = await self._verify(service, details.get("pid"))
            message = f"{message}; {verify_message}"
        record.update(ok=ok, message=message, output=output[-2000:],
                      durationMs=round((time.monotonic() - started) * 1000))
        run.attempts.append(record)
        await self._save(run)
        self.bus.publish("recovery_attempt", service, run.correlation_id, id=run.id, **record)
        logger.info("recovery {} of {}: {} attempt {} {}: {}", run.id, service, strategy.name,
                    number, "ok" if ok else "failed", message)
        return ok

    async def _verify(self, service: str, pid: int | None) -> tuple[bool, str]:
        """Check again until the service is up, within the startup grace."""
        deadline = time.monotonic() + self.defaults.startup_grace / 1000
        started = time.monotonic()
        while True:
            await self.scheduler.run_service(service)
            st = self.tracker.get(service)
            if st.state.is_up:
                return True, f"verified healthy after {time.monotonic() - started:.1f} s"
            if pid is not None and self.processes.pid_of(service, None) != pid:
                return False, f"process {pid} exited during startup"
            if time.monotonic() >= deadline:
                why = st.last_failure.message if st.last_failure else "still failing"
                return False, f"not healthy within the startup grace: {why}"
            await asyncio.sleep(VERIFY_POLL_S)

    def _give_up(self, service: str, reason: str, run: RecoveryRun) -> None:
        self.tracker.set_state(service, State.GAVE_UP, reason, recovery=run.id)
        self.bus.publish("gave_up", service, self.tracker.get(service).correlation_id,
                         reason=reason, recovery=run.id, attempts=run.attempts)

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
