"""Runs one recovery: its steps in order, each with its attempts under exponential backoff
and jitter (tenacity, one AsyncRetrying per run), every attempt verified by checking again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
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

from recovery_strategies.base import RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.config.services import RecoveryDefaults
from supervisor.core.events import EventBus
from supervisor.core.redaction import redact_text
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import State, StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.recovery.breaker import Breakers
from supervisor.recovery.journal import RecoveryJournal
from supervisor.recovery.locks import Grant, LeaseLost, RecoveryLock
from supervisor.recovery.plan import ServicePlan, Step
from supervisor.recovery.run import OUTPUT_LIMIT, RecoveryRun
from supervisor.recovery.verify import passes_before_acting, passes_now, verify_healthy

STRATEGY_TIMEOUT_S = 120.0
ContextFactory = Callable[[RecoveryRun, str, int], RecoveryContext]


class RecoveryRunner:
    def __init__(self, *, tracker: StateTracker, bus: EventBus, scheduler: Scheduler,
                 processes: ProcessManager, journal: RecoveryJournal, breakers: Breakers,
                 lock: RecoveryLock, plans: Mapping[str, ServicePlan],
                 context: ContextFactory) -> None:
        self.tracker = tracker
        self.bus = bus
        self.scheduler = scheduler
        self.processes = processes
        self.journal = journal
        self.breakers = breakers
        self.lock = lock
        self.plans = plans
        self.context = context
        self.defaults = RecoveryDefaults()
        self.slots = asyncio.Semaphore(self.defaults.max_concurrent)
        self.active: dict[str, RecoveryRun] = {}  # one recovery per service
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.grants: dict[str, Grant] = {}  # the lock (and lease token) each run acts under

    def configure(self, defaults: RecoveryDefaults) -> None:
        if defaults.max_concurrent != self.defaults.max_concurrent:
            self.slots = asyncio.Semaphore(defaults.max_concurrent)
        self.defaults = defaults

    def start(self, run: RecoveryRun, steps: list[Step], delay: float, grant: Grant) -> None:
        self.tasks[run.service] = asyncio.create_task(self.execute(run, steps, grant, delay))

    async def interrupt(self, service: str, message: str) -> None:
        """Stop a recovery in flight (a pause): it ends `interrupted` with this message."""
        task, run = self.tasks.get(service), self.active.get(service)
        if task is not None and run is not None:
            run.message = message
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self.tasks.values()):
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)

    async def execute(self, run: RecoveryRun, steps: list[Step], grant: Grant,
                      delay: float = 0.0) -> None:
        service = run.service
        self.grants[service] = grant
        begun = time.monotonic()
        try:
            async with self.slots:
                run.status = "running"
                self.tracker.set_state(service, State.RECOVERING, f"recovery {run.id} started")
                run.correlation_id = self.tracker.get(service).correlation_id
                await self.journal.save(run)
                self.bus.publish("recovery_started", service, run.correlation_id, id=run.id,
                                 action=run.action, requestedBy=run.requested_by,
                                 plan=run.plan, delayMs=round(delay * 1000),
                                 leaseFence=grant.token)
                if delay:
                    await asyncio.sleep(delay)
                # Fresh evidence right before acting: after a wait, or for a recovery resumed
                # after a daemon restart, the service may be up again by itself. After a wait,
                # a new round; without one, the round that just failed is that evidence —
                # except under a cluster lease: the node that held it before may have repaired
                # the service since this node's round failed, so only a new round tells.
                if run.requested_by == "auto" and await (
                        passes_now(service, self.scheduler) if delay or grant.token is not None
                        else passes_before_acting(service, self.scheduler, begun)):
                    run.status, run.finished_at = "skipped", time.time()
                    run.message = "healthy again right before acting: nothing done"
                    return
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
                        await self.breakers.recovered(service)
                else:
                    run.status = "failed"
                    if steps:
                        run.message = f"recovery failed after {len(run.attempts)} attempt(s)"
                    else:  # nothing may act on it automatically: say so, not "0 attempts"
                        run.message = ("no automatic recovery step applies to this service "
                                       "(no restart command, unit or other step in its "
                                       "ladder, or autoRestart is false): a human is needed")
                    await self.breakers.open(service, run.message, run)
                    # before the lease is released (finally): no node takes it to run a
                    # ladder of its own on a shared service this one gave up on
                    await self.lock.gave_up(service, run.message,
                                            shared=grant.token is not None)
        except LeaseLost as exc:  # another node took over: it acts, this one must not
            logger.warning("recovery {} of {} stopped before its next step: {}", run.id,
                           service, exc)
            run.status, run.finished_at = "interrupted", time.time()
            run.message = f"stopped before its next step: {exc}"
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
            if self.tasks.get(service) is asyncio.current_task():
                del self.tasks[service]
            if self.grants.get(service) is grant:
                del self.grants[service]
            await self.lock.release(grant)
            await asyncio.shield(self.journal.save(run))
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
        grant = self.grants.get(service)
        if grant is not None:  # fencing: the lease (its token) must still be this run's
            lost = await self.lock.still_ours(grant)
            if lost is not None:
                raise LeaseLost(lost)
            if grant.token is not None:
                record["leaseFence"] = grant.token
        ctx = self.context(run, service, number)
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
            grace_s = self.plans[service].startup_grace_ms / 1000
            ok, verify_message = await verify_healthy(
                service, details.get("pid"), grace_s, scheduler=self.scheduler,
                tracker=self.tracker, processes=self.processes,
                spec=self.plans[service].process_spec)
            message = f"{message}; {verify_message}"
        elif ok:
            message = f"{message}; not verified: {strategy.name} does not heal {service} itself"
        record.update(ok=ok, message=redact_text(message),
                      output=redact_text(output[-OUTPUT_LIMIT:]),
                      durationMs=round((time.monotonic() - started) * 1000))
        run.attempts.append(record)
        await self.journal.save(run)
        self.bus.publish("recovery_attempt", service, run.correlation_id, id=run.id, **record)
        logger.info("recovery {} of {}: {} attempt {} {}: {}", run.id, service, strategy.name,
                    number, "ok" if ok else "failed", record["message"])
        return ok
