"""The daemon's side of container watching: built only when a service watches a container or
label discovery is on, so a daemon without containers never opens Docker's event stream."""

from __future__ import annotations

from typing import Any, Protocol

from supervisor.clients.docker import DockerClient
from supervisor.config.settings import Settings
from supervisor.containers.discovery import LabelDiscovery, ServiceSlot
from supervisor.containers.watch import ContainerWatch
from supervisor.core.scheduler import Scheduler
from supervisor.core.state import StateTracker
from supervisor.recovery.manager import RecoveryManager


class ContainerHost(Protocol):
    """What container watching needs of the daemon."""

    settings: Settings
    config: Any
    docker: DockerClient
    scheduler: Scheduler
    tracker: StateTracker
    recovery: RecoveryManager
    extra_services: dict[str, Any]  # the services discovery found, beside services.json's

    @property
    def services(self) -> dict[str, Any]: ...

    def add_service(self, name: str, svc: Any, start: bool) -> None: ...

    def configure_recovery(self) -> None: ...


class DiscoveredServices:
    """Adds and removes the services discovery finds, beside those of services.json."""

    def __init__(self, host: ContainerHost) -> None:
        self.host = host

    def file_services(self) -> dict[str, Any]:
        return {n: s for n, s in self.host.services.items() if s.enabled}

    def recovery_defaults(self) -> dict[str, Any]:
        defaults = self.host.config.error_monitoring.recovery
        return dict(defaults.model_dump(mode="json", by_alias=True))

    async def add(self, name: str, svc: Any) -> None:
        h = self.host
        if name in h.extra_services:
            await h.scheduler.remove(name)
        h.extra_services[name] = svc
        h.add_service(name, svc, start=h.settings.error_monitoring_enabled)
        h.configure_recovery()

    async def remove(self, name: str) -> None:
        h = self.host
        if h.extra_services.pop(name, None) is None:
            return
        await h.scheduler.remove(name)
        h.tracker.remove(name)
        plan = h.recovery.plans.get(name)
        h.configure_recovery()
        if plan is not None and name in h.recovery.active:  # let it finish with its plan
            h.recovery.plans[name] = plan


def container_watch(host: ContainerHost) -> ContainerWatch:
    discovery = None
    if host.settings.docker_discovery:
        found = DiscoveredServices(host)
        slot = ServiceSlot(file_services=found.file_services,
                           recovery_defaults=found.recovery_defaults,
                           add=found.add, remove=found.remove)
        discovery = LabelDiscovery(host.docker, slot, host.settings,
                                   host.settings.docker_label_prefix)
    return ContainerWatch(host.docker, host.scheduler, host.tracker, discovery)
