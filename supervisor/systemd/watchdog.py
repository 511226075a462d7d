"""The systemd watchdog: pings only while the event loop and the scheduler make progress.

The ping is sent from a task on the event loop, so a loop blocked by synchronous work sends
nothing; and it is withheld while the self-watch's stall verdict stands (a service's check loop
died, or has not finished a run long after it was due, and reviving it has not yet made a check
run). If that lasts, systemd's WatchdogSec runs out, it kills the daemon with SIGABRT and
Restart=on-failure starts a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from loguru import logger

from supervisor.core.tasks import cancel_and_wait
from supervisor.systemd.notify import Notifier

# STATUS= is refreshed this often when there is no watchdog to pace the loop.
STATUS_EVERY_S = 2.0


class Watchdog:
    def __init__(self, notifier: Notifier, stalled: Callable[[], list[str]],
                 status: Callable[[], str]) -> None:
        """`stalled`: the services the self-watch's stall verdict names (empty: all well)."""
        self.notifier = notifier
        self.verdict = stalled
        self.status = status
        self.stalled: list[str] = []
        self.pings = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.notifier.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    def tick(self) -> bool:
        """One round: refresh STATUS=, and ping unless the scheduler is stalled."""
        stalled = self.verdict()
        if stalled and not self.stalled:
            logger.error("scheduler stalled ({} overdue: {}); withholding the systemd watchdog "
                         "ping", len(stalled), ", ".join(stalled[:5]))
        self.stalled = stalled
        if stalled:
            self.notifier.status(f"STALLED: checks overdue for {', '.join(stalled[:3])}"
                                 f"{' ...' if len(stalled) > 3 else ''}")
            return False
        self.notifier.status(self.status())
        if self.notifier.watchdog_interval_s is not None:
            self.notifier.watchdog()
            self.pings += 1
        return True

    async def _run(self) -> None:
        every = self.notifier.watchdog_interval_s or STATUS_EVERY_S
        # Deadline-based, so a slow tick does not push every later ping back.
        next_at = time.monotonic()
        while True:
            try:
                self.tick()
            except Exception:  # never let a bug here kill the pings silently
                logger.exception("watchdog tick failed")
            next_at += every
            now = time.monotonic()
            if next_at < now:
                next_at = now
            await asyncio.sleep(next_at - now)
