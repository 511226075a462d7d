"""Booting services with a `restart` block, at the daemon's start and after a config reload:
adopt the process a pidfile names, start the service when its checks say it is not up, and
watch what was started until it answers (so it is seen up at once, not at its next poll)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loguru import logger

from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker
from supervisor.processes.manager import ProcessManager
from supervisor.recovery.manager import RecoveryManager
from supervisor.recovery.plan import STARTUP_GRACE_MS
from supervisor.recovery.verify import verify_healthy


class Autostart:
    def __init__(self, services: Callable[[], dict[str, Any]], *, recovery: RecoveryManager,
                 processes: ProcessManager, scheduler: Scheduler, tracker: StateTracker) -> None:
        self.services = services  # services.json's, as the daemon holds them now
        self.recovery = recovery
        self.processes = processes
        self.scheduler = scheduler
        self.tracker = tracker
        self._boot_watches: set[asyncio.Task[tuple[bool, str]]] = set()

    async def run(self, names: list[str] | None = None) -> None:
        """Adopt processes whose pidfile names a live pid; start those that don't answer."""
        for name, svc in self.services().items():
            spec = svc.restart
            if spec is None or not svc.enabled or self.recovery.record(name).paused \
                    or (names is not None and name not in names):
                continue
            pid = self.processes.pid_of(name, spec)
            if pid is not None:
                self.processes.adopt(name, pid)
                continue
            if not spec.auto_start or svc.shared:  # shared: started under the lease, once
                continue
            checks = self.scheduler.services[name].checks
            results = await asyncio.gather(*(c.run() for c in checks))
            # A heartbeat passes until its first deadline: with only such checks, nothing
            # tells that the service already runs elsewhere, so it is started.
            blind = not any(c.sees_the_service for c in checks)
            if blind or not all(r.ok for r in results):
                try:
                    pid = await self.processes.start(name, spec)
                except OSError as exc:
                    logger.error("cannot start {}: {}", name, exc)
                else:
                    self._watch_boot(name, pid)

    def _watch_boot(self, name: str, pid: int) -> None:
        """A service the daemon just started is seen up as soon as it answers, not at its
        next poll: the first poll usually lands while it still boots (ignored in the startup
        grace), and the one after may be a long interval away."""
        plan = self.recovery.plans.get(name)
        grace_s = (plan.startup_grace_ms if plan else STARTUP_GRACE_MS) / 1000
        task = asyncio.get_running_loop().create_task(verify_healthy(
            name, pid, grace_s, scheduler=self.scheduler, tracker=self.tracker,
            processes=self.processes), name=f"boot:{name}")
        self._boot_watches.add(task)
        task.add_done_callback(self._boot_watches.discard)

    async def stop(self) -> None:
        """Stop watching services boot (a shutdown hook)."""
        for task in self._boot_watches:
            task.cancel()
        await asyncio.gather(*self._boot_watches, return_exceptions=True)
