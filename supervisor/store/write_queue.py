"""Batched writes for the store: callers queue rows, one task commits them in batches.

Writers never touch SQLite on the event loop and never wait for each other's transactions: a
storm of errors becomes a few large transactions instead of one commit per row. The queue is
bounded; when the store cannot write (disk full) the rows wait and are retried with backoff,
and beyond the bound the oldest fire-and-forget rows are dropped and counted (never awaited
ones, which are few: one per incident).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

Op = tuple[str, Any]  # (kind, payload), applied in order by the store's thread


@dataclass(slots=True)
class _Item:
    op: Op
    waiter: asyncio.Future[bool] | None = None


@dataclass
class WriteHealth:
    ok: bool = True
    last_error: str | None = None
    last_error_at: float | None = None
    last_exception: BaseException | None = field(default=None, repr=False)
    failures: int = 0
    written: int = 0
    dropped: int = 0
    batches: int = 0
    last_batch_ms: float = 0.0

    def to_dict(self, pending: int) -> dict[str, Any]:
        return {"writable": self.ok, "lastError": self.last_error,
                "lastErrorAt": round(self.last_error_at * 1000) if self.last_error_at else None,
                "failures": self.failures, "written": self.written, "dropped": self.dropped,
                "pending": pending, "batches": self.batches,
                "lastBatchMs": round(self.last_batch_ms, 1)}


class WriteQueue:
    def __init__(self, apply: Callable[[list[Op]], Awaitable[None]], *, max_pending: int,
                 batch_size: int = 2000, linger_s: float = 0.0) -> None:
        self._apply = apply
        self.max_pending = max_pending
        self.batch_size = batch_size
        self.linger_s = linger_s
        self._items: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._inflight = 0
        self._closing = False
        self.health = WriteHealth()
        # Told once per outage (and again when it ends) so that the daemon can report it.
        self.on_failure: Callable[[BaseException], None] | None = None
        self.on_recovered: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        return len(self._items) + self._inflight

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="store:writer")

    def submit(self, op: Op) -> bool:
        """Queue without waiting; False (and counted) when the queue was full and it was lost."""
        if len(self._items) >= self.max_pending and not self._shed():
            self.health.dropped += 1
            return False
        self._items.append(_Item(op))
        self._wake.set()
        return True

    async def put(self, op: Op) -> bool:
        """Queue and wait until committed (True) or, while the store cannot write, until it is
        safely queued for a retry (False), so a caller never hangs on a full disk."""
        if len(self._items) >= self.max_pending:
            self._shed()
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._items.append(_Item(op, fut))
        self._wake.set()
        if not self.health.ok:
            fut.set_result(False)
        return await fut

    def _shed(self) -> bool:
        """Drop the oldest row nobody waits for; False when every queued row is awaited."""
        for i, item in enumerate(self._items):
            if item.waiter is None:
                del self._items[i]
                self.health.dropped += 1
                return True
        return False

    async def flush(self, within: float = 10.0) -> None:
        """Wait until everything queued so far is committed (or `within` seconds pass)."""
        deadline = time.monotonic() + within
        # polls: the writer thread has no asyncio event to set
        while self.pending and time.monotonic() < deadline and self.health.ok:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    async def close(self, within: float = 5.0) -> None:
        """Commit what is queued (while the store writes), then stop the writer."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            _, pending = await asyncio.wait([self._task], timeout=within)
            for task in pending:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            self._task = None
        for item in self._items:
            if item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(False)
        if self._items:
            logger.error("store closed with {} writes not committed", len(self._items))

    async def _run(self) -> None:
        backoff = 0.1
        while not (self._closing and (not self._items or not self.health.ok)):
            await self._wake.wait()
            self._wake.clear()
            if self.linger_s:  # let a burst gather into one transaction
                await asyncio.sleep(self.linger_s)
            while self._items:
                n = min(len(self._items), self.batch_size)
                batch = [self._items.popleft() for _ in range(n)]
                started = time.perf_counter()
                self._inflight = n
                try:
                    await self._apply([item.op for item in batch])
                except asyncio.CancelledError:
                    raise  # only at close, after its grace: the batch may still commit
                except Exception as exc:
                    self._items.extendleft(reversed(batch))
                    self._failed(exc)
                    if self._closing:
                        break
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                finally:
                    self._inflight = 0
                backoff = 0.1
                h = self.health
                h.batches += 1
                h.written += n
                h.last_batch_ms = (time.perf_counter() - started) * 1000
                for item in batch:
                    if item.waiter is not None and not item.waiter.done():
                        item.waiter.set_result(True)
                if not h.ok:
                    h.ok = True
                    logger.warning("store writes again after {} failed batch(es)", h.failures)
                    if self.on_recovered is not None:
                        self.on_recovered()

    def _failed(self, exc: BaseException) -> None:
        h = self.health
        first = h.ok
        h.ok = False
        h.failures += 1
        h.last_error = f"{type(exc).__name__}: {exc}"
        h.last_error_at = time.time()
        h.last_exception = exc
        # Nobody may hang on a store that cannot write: their rows stay queued for retry.
        for item in self._items:
            if item.waiter is not None and not item.waiter.done():
                item.waiter.set_result(False)
        while len(self._items) > self.max_pending and self._shed():
            pass
        if first:
            # reported as an error by on_failure; the log line must not report it twice
            logger.bind(reported=True).opt(exception=exc).error(
                "store cannot write ({}); {} writes queued", h.last_error, len(self._items))
            if self.on_failure is not None:
                self.on_failure(exc)
