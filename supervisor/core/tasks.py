"""Stopping the daemon's own background loops, for sure.

`task.cancel()` asks once; a library may swallow that one request. redis-py does
(redis/redis-py#2028, still so in 8.1): a cancel that lands inside a command can end with the
command's answer instead of CancelledError, and a `while True` loop around it carries on as
if nothing happened, so a plain `cancel(); await gather(task)` waits forever (a lease renewer
hung ClusterLease.close that way). `cancel_and_wait` asks again until the loop has ended.

Only for loops with nothing to finish after a cancel: a second cancel interrupts cleanup that
takes longer than `again_after_s` (a recovery run storing its `interrupted` state is not one).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

from loguru import logger


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any] | None], *,
                          again_after_s: float = 1.0, patience_s: float = 10.0) -> None:
    """Cancel every task and wait until each has ended, cancelling again every
    `again_after_s` while one runs on; after `patience_s` give up on it with a warning
    (a stop that hangs would keep the daemon from shutting down)."""
    every = [t for t in tasks if t is not None]
    pending = {t for t in every if not t.done()}
    deadline = time.monotonic() + patience_s
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - time.monotonic()
        if left <= 0:
            logger.warning("{} task(s) did not stop within {:.0f} s of being cancelled: {}",
                           len(pending), patience_s, sorted(t.get_name() for t in pending))
            return
        _, pending = await asyncio.wait(pending, timeout=min(again_after_s, left))
        if pending:
            logger.debug("cancelling {} again: the first cancel was swallowed",
                         sorted(t.get_name() for t in pending))
    for task in every:  # what gather(return_exceptions=True) did: no "never retrieved" noise
        if task.done() and not task.cancelled():
            task.exception()
