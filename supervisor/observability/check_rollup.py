"""Check results folded into per-service, per-minute counters in memory (the width of a row
is SOULFRA_SERIES_RESOLUTION_S, 60 s unless told) and written in one batch every FLUSH_S
seconds (supervisor/store/series.py has the tables and the queries).

A check result costs a dict lookup and a few additions on the event loop; nothing here does
I/O except handing a list of rows to the store's write queue.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loguru import logger

from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.tasks import cancel_and_wait
from supervisor.store.series import Row, prune

if TYPE_CHECKING:
    from supervisor.store.database import Store

FLUSH_S = 10.0
# Read requests may flush what is open so a chart shows the last seconds, at most this often.
READ_FLUSH_S = 1.0
# Checks whose latency is not a response time (a pid lookup, a disk reading, a push that
# arrived): they count as checks and failures, not as latency samples.
NO_LATENCY = frozenset({"process", "disk", "memory", "heartbeat", "progress"})


@dataclass(slots=True)
class _Minute:
    checks: int = 0
    failed: int = 0
    degraded: int = 0
    samples: int = 0
    total_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None


class CheckRollup:
    def __init__(self, store: Store, resolution_s: float = 60.0,
                 flush_s: float = FLUSH_S) -> None:
        self.store = store
        self.resolution_s = resolution_s  # the width of a row (a minute unless told)
        self.flush_s = min(flush_s, resolution_s)
        self._open: dict[tuple[str, float], _Minute] = {}  # (service, minute start)
        self._task: asyncio.Task[None] | None = None
        self._last_flush = 0.0
        self.rows_written = 0

    def on_check(self, service: str, result: CheckResult) -> None:
        if result.kind is CheckKind.CHECK_ERROR:  # the check broke, not the service
            return
        key = (service, result.at - result.at % self.resolution_s)
        acc = self._open.get(key)
        if acc is None:
            acc = self._open[key] = _Minute()
        acc.checks += 1
        if not result.ok:
            acc.failed += 1
            return
        if result.kind is CheckKind.DEGRADED:
            acc.degraded += 1
        if result.check_type in NO_LATENCY:
            return
        ms = result.latency_ms
        acc.samples += 1
        acc.total_ms += ms
        acc.min_ms = ms if acc.min_ms is None else min(acc.min_ms, ms)
        acc.max_ms = ms if acc.max_ms is None else max(acc.max_ms, ms)

    def flush(self) -> int:
        """Hand every open counter to the write queue (the store merges rows of a minute
        written twice); returns the number of rows."""
        self._last_flush = time.monotonic()
        if not self._open:
            return 0
        rows: list[Row] = [(service, start, a.checks, a.failed, a.degraded, a.samples,
                            a.total_ms, a.min_ms, a.max_ms)
                           for (service, start), a in self._open.items()]
        self._open = {}
        if self.store.writes.submit(("check_rollup", rows)):
            self.rows_written += len(rows)
        return len(rows)

    async def fresh(self) -> None:
        """Before a read: what was counted up to now is in the store (rate-limited)."""
        if self._open and time.monotonic() - self._last_flush >= READ_FLUSH_S:
            self.flush()
            await self.store.flush()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="check-rollup")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            try:
                self.flush()
            except Exception as exc:  # never lose the loop over one bad flush
                logger.opt(exception=exc).error("check rollup flush failed")

    async def stop(self) -> None:
        """At shutdown, before the store closes: the open minute is written too."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        self.flush()

    async def prune(self, hours_before: float) -> int:
        removed = 0
        while True:
            n = await self.store.transaction(lambda conn: prune(conn, time.time(), hours_before))
            removed += n
            if n < 5000:
                return removed
