"""The daemon's side of container watching: built only when a service watches a container or
label discovery is on, so a daemon without containers never opens Docker's event stream."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supervisor.containers.discovery import LabelDiscovery, ServiceSlot
from supervisor.containers.watch import ContainerWatch

if TYPE_CHECKING:
    from supervisor.daemon import Daemon


class DiscoveredServices:
    """Adds and removes the services discovery finds, beside those of services.json."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def file_services(self) -> dict[str, Any]:
        return {n: s for n, s in self.daemon.services.items() if s.enabled}

    def recovery_defaults(self) -> dict[str, Any]:
        defaults = self.daemon.config.error_monitoring.recovery
        return dict(defaults.model_dump(mode="json", by_alias=True))

    async def add(self, name: str, svc: Any) -> None:
        d = self.daemon
        if name in d.extra_services:
            await d.scheduler.remove(name)
        d.extra_services[name] = svc
        d.add_service(name, svc, start=d.settings.error_monitoring_enabled)
        d.configure_recovery()

    async def remove(self, name: str) -> None:
        d = self.daemon
        if d.extra_services.pop(name, None) is None:
            return
        await d.scheduler.remove(name)
        d.tracker.remove(name)
        plan = d.recovery.plans.get(name)
        d.configure_recovery()
        if plan is not None and name in d.recovery.active:  # let it finish with its plan
            d.recovery.plans[name] = plan


def container_watch(daemon: Daemon) -> ContainerWatch:
    discovery = None
    if daemon.settings.docker_discovery:
        found = DiscoveredServices(daemon)
        slot = ServiceSlot(file_services=found.file_services,
                           recovery_defaults=found.recovery_defaults,
                           add=found.add, remove=found.remove)
        discovery = LabelDiscovery(daemon.docker, slot, daemon.settings,
                                   daemon.settings.docker_label_prefix)
    return ContainerWatch(daemon.docker, daemon.scheduler, daemon.tracker, discovery)
