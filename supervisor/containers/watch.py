"""Containers as services, seen at once: a Docker event (`die`, `oom`, `health_status:
unhealthy`) about a watched container runs that service's container checks right away, and a
failure they find is a push signal, like a child's exit (no threshold, no wait for the poll).

The event only says that something happened; the check says what (exited with code 137,
OOM-killed, unhealthy by its HEALTHCHECK, or already running again because Docker's restart
policy was quicker), so an event and a poll always agree on the diagnosis.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger

from health_checks.base import HealthCheck
from supervisor.clients.docker import DockerClient, DockerUnavailable
from supervisor.containers.discovery import LabelDiscovery
from supervisor.containers.events import EventStream
from supervisor.core.check_result import CheckKind
from supervisor.core.redaction import redact, redact_text
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker
from supervisor.core.tasks import cancel_and_wait

PUSH_ACTIONS = frozenset({"die", "oom", "health_status: unhealthy"})


def watches(check: HealthCheck, name: str, cid: str) -> bool:
    """Whether a check watches the container named `name` with id `cid`."""
    ref = getattr(check.config, "container", None) if check.type_name == "container" else None
    return ref is not None and (ref == name or (len(ref) >= 12 and cid.startswith(ref)))


class ContainerWatch:
    def __init__(self, docker: DockerClient, scheduler: Scheduler, tracker: StateTracker,
                 discovery: LabelDiscovery | None = None) -> None:
        self.docker = docker
        self.scheduler = scheduler
        self.tracker = tracker
        self.discovery = discovery
        self.stream = EventStream(docker, self._on_event, self._on_connect)
        self.pushed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self.stream.start()

    async def stop(self) -> None:
        await self.stream.stop()
        await cancel_and_wait(list(self._tasks))

    def status(self) -> dict[str, Any]:
        out = {**self.stream.status(), "pushedFailures": self.pushed}
        if self.discovery is not None:
            out["discovery"] = self.discovery.status()
        return out

    async def file_changed(self, file_services: set[str]) -> None:
        """After a reload of services.json: it wins where it now speaks, and what it no
        longer shadows may be discovered again (in the background: Docker may be away)."""
        if self.discovery is None:
            return
        await self.discovery.yield_to(file_services)
        if self.stream.connected:
            self._spawn(self._resync())

    async def _resync(self) -> None:
        assert self.discovery is not None
        try:
            await self.discovery.sync()
        except DockerUnavailable as exc:
            logger.warning("discovery after a reload: {}", exc)

    async def _on_connect(self) -> None:
        if self.discovery is not None:
            await self.discovery.sync()
        if self.stream.connects > 1:
            # Blind while disconnected: whatever died meanwhile is found by checking now.
            for name, rt in list(self.scheduler.services.items()):
                if any(c.type_name == "container" for c in rt.checks):
                    self._spawn(self._recheck(name))

    async def _recheck(self, service: str) -> None:
        await self.scheduler.run_service(service)

    async def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("status") or event.get("Action") or "")
        cid = str(event.get("id") or (event.get("Actor") or {}).get("ID") or "")
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        name = str(attrs.get("name", ""))
        if self.discovery is not None:
            await self.discovery.on_event(action, cid, attrs)
        if action not in PUSH_ACTIONS:
            return
        for service, rt in list(self.scheduler.services.items()):
            checks = [c for c in rt.checks if watches(c, name, cid)]
            if checks:
                self._spawn(self._push(service, checks, action))

    async def _push(self, service: str, checks: list[HealthCheck], action: str) -> None:
        results = await asyncio.gather(*(c.run() for c in checks))
        failures = [r for r in results if not r.ok and r.kind is not CheckKind.CHECK_ERROR]
        if not failures:
            return  # already running again (Docker's restart policy), or not ours to judge
        result = failures[0]
        result.details["dockerEvent"] = action
        # Masked as the scheduler masks every result (a HEALTHCHECK's output may hold anything).
        result.message = redact_text(result.message + f" (Docker event: {action})")
        result.details = redact(result.details)
        self.pushed += 1
        self.tracker.signal_failure(service, result)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
