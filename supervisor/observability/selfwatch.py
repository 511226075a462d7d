"""The daemon watching itself: failures that would otherwise pass in silence become errors of
level `system`, with the stack that explains them, and none of them stops the daemon.

- unhandled exceptions in tasks and callbacks (the loop's exception handler), and exceptions
  that the daemon caught and logged (`logger.exception`), through a loguru sink;
- a blocked event loop: a ticker measures the loop's lag, and a watchdog thread takes the
  loop thread's stack while it is blocked, so the error names the code that blocked;
- a scheduler that stopped making progress: the one stall verdict (`Scheduler.overdue()`), which
  revives the dead loops, makes /health say the monitoring is broken until a check ran again,
  and withholds the systemd watchdog ping (systemd/watchdog.py reads it);
- checks that failed because of the daemon itself (no free fd, its loop late): inconclusive,
  see own_trouble.py;
- a store that cannot write (the write queue reports the outage; the error is queued and
  lands once the store writes again, and is visible in /status meanwhile).
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

from loguru import logger

from supervisor.core.events import EventBus
from supervisor.core.incidents import error_row
from supervisor.core.scheduler import Scheduler
from supervisor.core.tasks import cancel_and_wait
from supervisor.core.taxonomy import (
    EVENT_LOOP_BLOCKED,
    SCHEDULER_STALLED,
    STORE_WRITE_FAILED,
    UNHANDLED,
    Category,
    Classification,
    classify_exception,
    fingerprint,
)
from supervisor.observability.own_trouble import OwnTrouble
from supervisor.store.database import Store

SELF = "soulfra-supervisor"  # the `service` of the daemon's own errors
TICK_S = 0.1
PER_FINGERPRINT_PER_MINUTE = 10  # beyond this an error storm of our own is counted, not stored


def format_exc(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class LoopStackWatchdog(threading.Thread):
    """Takes the loop thread's stack when the loop has not ticked for `threshold_s`."""

    def __init__(self, loop_thread: int, threshold_s: float) -> None:
        super().__init__(name="selfwatch-watchdog", daemon=True)
        self.loop_thread = loop_thread
        self.threshold_s = threshold_s
        self.beat = time.monotonic()
        self.captured: str | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        while not self._stopping.wait(min(self.threshold_s / 4, 0.25)):
            if self.captured is None and time.monotonic() - self.beat > self.threshold_s:
                frame = sys._current_frames().get(self.loop_thread)
                if frame is not None:
                    self.captured = "".join(traceback.format_stack(frame))

    def stop(self) -> None:
        self._stopping.set()


class SelfWatch:
    def __init__(self, store: Store, bus: EventBus, *, lag_threshold_s: float = 1.0,
                 scheduler: Scheduler | None = None, stall_slack_s: float = 10.0) -> None:
        self.store = store
        self.bus = bus
        self.lag_threshold_s = lag_threshold_s
        self.scheduler = scheduler
        self.stall_slack_s = stall_slack_s
        # The stall verdict: services overdue now, and when the episode began (monotonic);
        # it ends when nothing is overdue and a check ran after the last revival.
        self.overdue: list[str] = []
        self.stalled_since: float | None = None
        self._revived_at = 0.0
        self.own_trouble = OwnTrouble(self.report, self.max_lag_ms_since)
        # Called with every loop-lag sample in seconds (the metrics read the one sampler).
        self.lag_hooks: list[Callable[[float], None]] = []
        self.recent: deque[dict[str, Any]] = deque(maxlen=50)
        self.lag_ms = 0.0
        self.max_lag_ms = 0.0
        self._lags: deque[tuple[float, float]] = deque(maxlen=600)  # (monotonic, lag ms)
        self.blocks = 0
        self.suppressed = 0
        self._rate: dict[str, deque[float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._watchdog: LoopStackWatchdog | None = None
        self._sink_id: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reporting = False

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        loop.set_exception_handler(self._loop_exception)
        self._watchdog = LoopStackWatchdog(threading.get_ident(), self.lag_threshold_s)
        self._watchdog.start()
        self._task = loop.create_task(self._tick(), name="selfwatch")
        self._sink_id = logger.add(self._log_sink, level="ERROR", filter=self._sink_filter,
                                   catch=True)
        self.store.writes.on_failure = self._store_failed
        if self.scheduler is not None:
            self.scheduler.judge = self.own_trouble.judge
        self.store.writes.on_recovered = self._store_recovered

    async def stop(self) -> None:
        if self._sink_id is not None:
            logger.remove(self._sink_id)
            self._sink_id = None
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._task is not None:
            await cancel_and_wait([self._task])

    # -- reporting --------------------------------------------------------------------------
    def report(self, c: Classification, message: str, *, stack: str | None = None,
               exc: BaseException | None = None, correlation_id: str | None = None,
               **context: Any) -> dict[str, Any] | None:
        """Store (without waiting), publish and remember one error of the daemon itself."""
        if self._reporting:  # reporting must never report itself
            return None
        self._reporting = True
        try:
            fp = fingerprint(SELF, str(c.category), message)
            now = time.monotonic()
            if len(self._rate) > 1000:
                self._rate.clear()
            times = self._rate.setdefault(fp, deque())
            while times and now - times[0] > 60:
                times.popleft()
            if len(times) >= PER_FINGERPRINT_PER_MINUTE:
                self.suppressed += 1
                return None
            times.append(now)
            if exc is not None:
                stack = stack or format_exc(exc)
                context.setdefault("exception", f"{type(exc).__module__}.{type(exc).__name__}")
            row = error_row(c, SELF, message, context={**context, "stack": stack},
                            source="daemon", correlation_id=correlation_id)
            self.store.submit_error(row)
            summary = {"id": row["id"], "type": row["type"], "category": row["category"],
                       "level": row["level"], "severity": row["severity"],
                       "message": row["message"], "timestamp": round(row["created_at"] * 1000),
                       "stack": row["context"].get("stack")}
            self.recent.append(summary)
            self.bus.publish("daemon_error", SELF, None,
                             error={k: v for k, v in summary.items() if k != "stack"})
            return row
        finally:
            self._reporting = False

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, ctx: dict[str, Any]) -> None:
        exc = ctx.get("exception")
        message = str(ctx.get("message") or "unhandled exception in the event loop")
        where = ctx.get("task") or ctx.get("future") or ctx.get("handle")
        extra: dict[str, Any] = {"where": repr(where)[:300]} if where is not None else {}
        if isinstance(exc, BaseException):
            c = classify_exception(exc)
            if c.category is Category.INTERNAL_ERROR:
                c = UNHANDLED
            self.report(c, f"{message}: {type(exc).__name__}: {exc}", exc=exc, **extra,
                        **_raised_at(exc))
        else:
            self.report(UNHANDLED, message, stack="".join(traceback.format_stack()), **extra)
        # keep the default output too: a human tailing the log sees it where they expect
        logger.bind(reported=True).opt(
            exception=exc if isinstance(exc, BaseException) else None).error(
            "event loop: {}", message)

    @staticmethod
    def _sink_filter(record: Any) -> bool:
        return record["exception"] is not None and not record["extra"].get("reported")

    def _log_sink(self, message: Any) -> None:
        """An exception the daemon caught and logged is still a failure worth keeping."""
        r = message.record
        exc = r["exception"].value
        if exc is None or self._loop is None:
            return
        c = classify_exception(exc)
        if c.category is Category.INTERNAL_ERROR:
            c = UNHANDLED
        text = f"{r['message']}: {type(exc).__name__}: {exc}"
        ctx = {"module": r["name"], "function": r["function"], "line": r["line"]}
        try:
            running = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            running = False
        if running:
            self.report(c, text, exc=exc, **ctx)
        else:  # logged from a thread (the store's): hand it to the loop
            self._loop.call_soon_threadsafe(lambda: self.report(c, text, exc=exc, **ctx))

    def _store_failed(self, exc: BaseException) -> None:
        c = classify_exception(exc)
        store_c = Classification(STORE_WRITE_FAILED.type,
                                 c.category if c.category is Category.DISK_EXHAUSTED
                                 else STORE_WRITE_FAILED.category,
                                 STORE_WRITE_FAILED.level, STORE_WRITE_FAILED.severity)
        self.report(store_c, f"store cannot write {self.store.path}: {type(exc).__name__}: "
                             f"{exc}", exc=exc, pending=self.store.writes.pending)

    def _store_recovered(self) -> None:
        self.bus.publish("store_recovered", SELF, None,
                         failures=self.store.writes.health.failures)

    # -- the ticker -------------------------------------------------------------------------
    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        expected = loop.time() + TICK_S
        last_sched_check = 0.0
        while True:
            await asyncio.sleep(max(0.0, expected - loop.time()))
            now = loop.time()
            lag = max(0.0, now - expected)
            expected = now + TICK_S
            wd = self._watchdog
            if wd is not None:
                wd.beat = time.monotonic()
            self._record_lag(lag)
            if lag >= self.lag_threshold_s or (wd is not None and wd.captured is not None):
                stack = wd.captured if wd is not None else None
                if wd is not None:
                    wd.captured = None
                self.blocks += 1
                self.report(EVENT_LOOP_BLOCKED,
                            f"event loop blocked for {lag * 1000:.0f} ms "
                            f"(threshold {self.lag_threshold_s * 1000:.0f} ms)",
                            stack=stack or "(the loop resumed before its stack was taken)",
                            lagMs=round(lag * 1000, 1))
            if now - last_sched_check >= 1.0:
                last_sched_check = now
                self._check_scheduler()

    def _record_lag(self, lag: float) -> None:
        ms = lag * 1000
        self.lag_ms = ms
        self.max_lag_ms = max(self.max_lag_ms, ms)
        self._lags.append((time.monotonic(), ms))
        for hook in self.lag_hooks:
            hook(lag)

    def max_lag_ms_since(self, since: float) -> float:
        """The worst loop lag sampled since the monotonic time `since`."""
        worst = 0.0
        for at, ms in reversed(self._lags):
            if at < since:
                break
            worst = max(worst, ms)
        return worst

    def _check_scheduler(self) -> None:
        """The one stall verdict: overdue loops are revived, and the episode lasts until a
        check has run again."""
        sched = self.scheduler
        if sched is None:
            return
        now = time.monotonic()
        overdue = sched.overdue(self.stall_slack_s, now)
        if overdue:
            if self.stalled_since is None:
                self.stalled_since = now
                self.report(SCHEDULER_STALLED,
                            f"scheduler made no progress: {len(overdue)} service(s) overdue "
                            f"({', '.join(overdue[:5])}); reviving their check loops",
                            stack=_task_stacks("checks:"), overdue=overdue[:20])
            self.overdue = overdue
            sched.revive(overdue)
            self._revived_at = now
        elif self.stalled_since is not None and all(
                rt.last_run > self._revived_at
                for rt in (sched.services.get(n) for n in self.overdue) if rt is not None):
            logger.warning("scheduler makes progress again after {:.0f} s",
                           now - self.stalled_since)
            self.bus.publish("scheduler_recovered", SELF, None,
                             stalledS=round(now - self.stalled_since, 1))
            self.stalled_since = None
            self.overdue = []

    @property
    def scheduler_stalled(self) -> bool:
        return self.stalled_since is not None

    def monitoring_status(self) -> dict[str, Any]:
        """For /health: whether the checks themselves can be trusted right now."""
        if self.stalled_since is None:
            return {"status": "ok"}
        return {"status": "stalled", "overdue": self.overdue[:20],
                "stalledForS": round(time.monotonic() - self.stalled_since, 1),
                "reason": "health checks are not running; service states may be stale"}

    # -- for /status ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        cutoff = time.monotonic() - 60
        recent = sorted(ms for t, ms in self._lags if t >= cutoff)
        p99 = recent[min(len(recent) - 1, int(len(recent) * 0.99))] if recent else 0.0
        return {"eventLoop": {"lagMs": round(self.lag_ms, 2),
                              "maxLagMs1m": round(recent[-1], 2) if recent else 0.0,
                              "p99LagMs1m": round(p99, 2),
                              "maxLagMs": round(self.max_lag_ms, 2),
                              "thresholdMs": round(self.lag_threshold_s * 1000),
                              "blocks": self.blocks},
                "schedulerStalled": self.scheduler_stalled,
                "scheduler": {**self.monitoring_status(), "revived":
                              self.scheduler.revived if self.scheduler is not None else 0},
                "suppressed": self.suppressed,
                "recentErrors": list(self.recent)[-10:]}


def _raised_at(exc: BaseException) -> dict[str, Any]:
    """Module, function and line of the frame that raised, like a logged error has."""
    tb = exc.__traceback__
    if tb is None:
        return {}
    while tb.tb_next is not None:
        tb = tb.tb_next
    frame = tb.tb_frame
    return {"module": frame.f_globals.get("__name__", ""), "function": frame.f_code.co_name,
            "line": tb.tb_lineno}


def _task_stacks(prefix: str, limit: int = 5) -> str:
    """Where the named tasks are waiting: the best stack a stalled scheduler has."""
    out = []
    for task in asyncio.all_tasks():
        if task.get_name().startswith(prefix):
            frames = task.get_stack(limit=3)
            out.append(f"{task.get_name()}:\n" + "".join(
                traceback.format_list(traceback.extract_stack(frames[-1]) if frames else [])))
            if len(out) >= limit:
                break
    return "\n".join(out) or "(no scheduler tasks are running)"
