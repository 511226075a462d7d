"""Runs every service's checks on its interval.

One task per service, sleeping to a deadline from a random starting phase (so that many
services do not fire together, and lateness does not accumulate); the deadlines are rounded up
to a 50 ms grid so that the checks due together share a wake-up of the loop. A global
semaphore bounds the checks in flight; a check never overlaps itself; a hung check only ever
holds its own slot until its timeout, so it never delays another service.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from loguru import logger

from health_checks.base import HealthCheck
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.events import EventBus
from supervisor.core.redaction import redact, redact_text
from supervisor.core.state import State, StateTracker
from supervisor.core.tasks import cancel_and_wait

# A gave_up service is still probed, at this multiple of its interval, to notice it healed.
SLOW_PROBE_FACTOR = 4
# Extra time a check gets beyond its own timeout before the scheduler cuts it off.
OVERRUN_GRACE_S = 1.0
FIRST_CHECK_WITHIN_S = 2.0
# ...but no faster than this many first checks per second: 10,000 services starting within
# 2 s made the loop too busy to read answers in time, and healthy services timed out.
FIRST_ROUND_RATE = 300.0
# Checks wake on a grid of this many seconds (a twentieth of the interval when that is less).
WAKE_SLOT_S = 0.05


@dataclass
class ServiceRuntime:
    name: str
    interval_s: float
    checks: list[HealthCheck]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_run: float = 0.0  # monotonic; when its latest round finished
    last_results: list[CheckResult] = field(default_factory=list)  # that round's results
    runs: int = 0
    # The round running now (its results when done) and when it started (monotonic).
    in_flight: asyncio.Future[list[CheckResult]] | None = None
    in_flight_since: float = 0.0
    loop_started: float = 0.0  # monotonic; when its scheduling loop began
    critical: bool = False  # never stretched by the overhead budget
    # The timer its loop sleeps on; resolved early (True) when a check asks to run now.
    waiter: asyncio.Future[bool] | None = None


class Scheduler:
    def __init__(self, tracker: StateTracker, bus: EventBus, max_concurrent: int) -> None:
        self.tracker = tracker
        self.bus = bus
        self._sem = asyncio.Semaphore(max_concurrent)
        self.services: dict[str, ServiceRuntime] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.last_tick = time.monotonic()  # progress marker for watchdogs
        self.on_check: Callable[[str, CheckResult], None] | None = None
        # Intervals of non-critical services are multiplied by this (the overhead budget,
        # supervisor/observability/overhead.py, sets it; 1.0 = as configured).
        self.stretch = 1.0
        # Set by the self-watch: turns a failure the daemon itself caused (no free fd, its own
        # loop late past the timeout) into an inconclusive result; see observability/own_trouble.
        self.judge: Callable[[str, float, CheckResult, float], CheckResult] | None = None
        self.revived = 0

    def add(self, runtime: ServiceRuntime, start: bool = True) -> None:
        self.services[runtime.name] = runtime
        for check in runtime.checks:
            check.on_trouble = lambda why, name=runtime.name: self.check_soon(name, why)
        if start:
            self._start(runtime)

    def start_all(self) -> None:
        for name, runtime in self.services.items():
            if name not in self._tasks:
                self._start(runtime)

    def _start(self, rt: ServiceRuntime) -> None:
        rt.loop_started = time.monotonic()
        self._tasks[rt.name] = asyncio.create_task(self._loop(rt), name=f"checks:{rt.name}")

    async def remove(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None:
            await cancel_and_wait([task])
        runtime = self.services.pop(name, None)
        if runtime is not None:
            for check in runtime.checks:
                await check.close()

    async def stop(self) -> None:
        for name in list(self.services):
            await self.remove(name)

    async def pause(self) -> None:
        """Stop the periodic loops but keep the services, so run_service still works
        (a recovery finishing during shutdown verifies through it)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        await cancel_and_wait(tasks)

    def revive(self, names: list[str]) -> list[str]:
        """Start a fresh check loop for each named service whose loop died or hangs; the ones
        restarted. The self-watch calls this when its stall verdict names them."""
        revived = []
        for name in names:
            rt = self.services.get(name)
            task = self._tasks.get(name)
            if rt is None or task is None:
                continue
            if not task.done():
                task.cancel()  # hung past every timeout: a fresh loop is the way out
            self._start(rt)
            revived.append(name)
        self.revived += len(revived)
        return revived

    def kill_loops(self) -> int:
        """Cancel every check loop, leaving them registered as running (fault injection:
        the stall the self-watch must notice and heal)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        return len(tasks)

    def overdue(self, slack_s: float = 5.0, now: float | None = None) -> list[str]:
        """Scheduled services whose loop died or has not finished a run when it should have:
        a stalled scheduler, which the systemd watchdog must be allowed to notice."""
        now = time.monotonic() if now is None else now
        late = []
        for name, task in self._tasks.items():
            rt = self.services.get(name)
            if rt is None:
                continue
            factor = SLOW_PROBE_FACTOR if self._state(name) is State.GAVE_UP else 1
            timeout = max((c.config.timeout_s for c in rt.checks), default=0.0)
            allowed = self.interval_of(rt) * factor + timeout + OVERRUN_GRACE_S + slack_s
            if task.done() or now - max(rt.last_run, rt.loop_started) > allowed:
                late.append(name)
        return late

    async def _loop(self, rt: ServiceRuntime) -> None:
        # The first check comes soon (a fresh daemon should know its services), the later
        # ones on a random phase of the interval so that services spread out.
        start = time.monotonic()
        first_within = max(FIRST_CHECK_WITHIN_S, len(self.services) / FIRST_ROUND_RATE)
        await asyncio.sleep(random.uniform(0, min(rt.interval_s, first_within)))
        await self.run_service(rt.name)
        next_at = start + random.uniform(0, rt.interval_s)
        while next_at <= time.monotonic():
            next_at += rt.interval_s
        while True:
            if await self._sleep_until(rt, next_at):
                await self.run_service(rt.name)  # woken: a check saw trouble; keep the phase
                continue
            factor = SLOW_PROBE_FACTOR if self._state(rt.name) is State.GAVE_UP else 1
            step = self.interval_of(rt)
            next_at += step * factor
            if next_at < time.monotonic():  # fell behind (a long check): skip, keep the phase
                behind = time.monotonic() - next_at
                next_at += (behind // step + 1) * step
            await self.run_service(rt.name)

    def interval_of(self, rt: ServiceRuntime) -> float:
        """The interval it runs at now: configured, or stretched by the overhead budget."""
        return rt.interval_s if rt.critical else rt.interval_s * self.stretch

    def check_soon(self, name: str, why: str) -> None:
        """Run a service's checks now rather than at its next turn (a check saw trouble)."""
        rt = self.services.get(name)
        if rt is not None and rt.waiter is not None and not rt.waiter.done():
            logger.debug("{}: checking now: {}", name, why)
            rt.waiter.set_result(True)

    async def _sleep_until(self, rt: ServiceRuntime, when: float) -> bool:
        """Sleep until `when` (monotonic); True if woken early by check_soon."""
        delay = when - time.monotonic()
        if delay <= 0:
            return False
        # Wake on a grid: checks due within the same slot start in one loop iteration, which
        # shares its wake-up and polling among them (a third less CPU per check at 200
        # checks/s, docs/benchmarks.md). A wake is at most one slot late.
        slot = min(WAKE_SLOT_S, rt.interval_s / 20)
        delay = math.ceil(when / slot) * slot - time.monotonic()
        loop = asyncio.get_running_loop()
        rt.waiter = waiter = loop.create_future()
        timer = loop.call_later(delay, _resolve, waiter)
        try:
            return bool(await waiter)
        finally:
            timer.cancel()
            rt.waiter = None

    def _state(self, name: str) -> State | None:
        st = self.tracker.services.get(name)
        return st.state if st else None

    async def run_service(self, name: str) -> list[CheckResult]:
        """Run a service's checks now (waiting for a run in flight) and record the results."""
        rt = self.services.get(name)
        if rt is None:
            return []
        async with rt.lock:
            rt.in_flight = done = asyncio.get_running_loop().create_future()
            rt.in_flight_since = time.monotonic()
            try:
                results = list(await asyncio.gather(*(self._run_check(rt, c)
                                                      for c in rt.checks)))
                rt.last_run = self.last_tick = time.monotonic()
                rt.last_results = results
                rt.runs += 1
                self.tracker.record(name, results)
                done.set_result(results)
                return results
            finally:
                if not done.done():
                    done.cancel()
                rt.in_flight = None

    def last_round(self, name: str) -> tuple[float, list[CheckResult]] | None:
        """When the service's latest round of checks finished (monotonic) and its results;
        None before its first."""
        rt = self.services.get(name)
        if rt is None or not rt.runs:
            return None
        return rt.last_run, list(rt.last_results)

    async def join_round(self, name: str, started_after: float) -> list[CheckResult] | None:
        """The results of the round in flight, waited for (not run a second time), if it
        started at or after `started_after` (monotonic); None when there is no such round or
        it was cut off."""
        rt = self.services.get(name)
        current = rt.in_flight if rt is not None else None
        if rt is None or current is None or rt.in_flight_since < started_after:
            return None
        try:
            return list(await asyncio.shield(current))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled, not only that round
            return None

    async def _run_check(self, rt: ServiceRuntime, check: HealthCheck) -> CheckResult:
        async with self._sem:
            started = time.perf_counter()
            started_at = time.monotonic()
            try:
                async with asyncio.timeout(check.config.timeout_s + OVERRUN_GRACE_S):
                    result = await check.run()
            except TimeoutError:
                result = check.result(CheckKind.STALLED, (time.perf_counter() - started) * 1000,
                                      f"check {check.name} overran its timeout")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.opt(exception=exc).error("check {}/{} crashed", rt.name, check.name)
                result = check.result(CheckKind.CHECK_ERROR, 0.0,
                                      f"check {check.name} crashed: {exc!r}",
                                      traceback=traceback.format_exc(limit=5))
        if not result.ok and self.judge is not None:
            result = self.judge(rt.name, check.config.timeout_s, result, started_at)
        # A result's message often quotes the URL it tried: mask secrets once, here, before
        # the state, the bus, the store and the API ever hold it.
        if result.message:
            result.message = redact_text(result.message)
        if result.details:
            result.details = redact(result.details)
        if self.on_check is not None:
            self.on_check(rt.name, result)
        return result


def _resolve(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def add_check_hook(scheduler: Scheduler, hook: Callable[[str, CheckResult], None]) -> None:
    """Call `hook` with every check result, after any hook already installed."""
    previous = scheduler.on_check
    if previous is None:
        scheduler.on_check = hook
        return

    def both(service: str, result: CheckResult) -> None:
        previous(service, result)
        hook(service, result)

    scheduler.on_check = both
