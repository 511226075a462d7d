"""Recurring maintenance windows put their services in maintenance: at each window's start
the daemon pauses them (no check counts, no recovery runs, uptime leaves the time out, no
alert) for the window's duration; the pause ends by itself. `"pause": false` holds only the
alerts (the silence part lives in supervisor/alerts/silences.py) and lets recovery work."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import time
from typing import TYPE_CHECKING, Any

from loguru import logger

from supervisor.alerts.recurring import active_window

if TYPE_CHECKING:
    from supervisor.alerts.silences import MaintenanceWindow
    from supervisor.recovery.manager import RecoveryManager

TICK_S = 0.5


class RecurringMaintenance:
    def __init__(self, recovery: RecoveryManager) -> None:
        self.recovery = recovery
        self.windows: list[tuple[int, MaintenanceWindow]] = []
        self.services: list[str] = []
        self._begun: set[tuple[int, float]] = set()  # (window, start) already applied
        self._task: asyncio.Task[None] | None = None

    def configure(self, windows: list[MaintenanceWindow], services: list[str]) -> None:
        self.windows = [(i, w) for i, w in enumerate(windows) if w.cron and w.pauses]
        self.services = list(services)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="maintenance")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("maintenance windows failed; trying again")
            await asyncio.sleep(TICK_S)

    async def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        for i, w in self.windows:
            window = active_window(w.trigger(), w.duration_s, now)
            if window is None or (i, window[0]) in self._begun:
                continue
            self._begun.add((i, window[0]))
            names = [s for s in self.services
                     if any(fnmatch.fnmatchcase(s, p) for p in w.services)]
            for name in names:
                await self._pause(name, i, w, window[1] - now)

    async def _pause(self, name: str, i: int, w: Any, left_s: float) -> None:
        if self.recovery.record(name).paused:
            return  # paused by someone already: their pause decides when it ends
        logger.info("{}: maintenance window {} ({}) for {:.0f} s", name, i, w.cron, left_s)
        await self.recovery.pause(name, by=f"maintenance window {i}",
                                  reason=w.comment or f"{w.cron} ({w.timezone})",
                                  duration_ms=left_s * 1000)
