"""Discovery by labels: a container labelled `soulfra.enable=true` becomes a watched service
without an edit to services.json, and stops being one when the container is removed.

Every other `soulfra.<field>` label is that field of the service as services.json spells it
(`soulfra.port=8080`, `soulfra.healthCheckPath=/health`, `soulfra.interval=5000`, ...), and
`soulfra.name` names the service (default: the container's name). The labels are validated by
the same models as services.json; a problem is reported naming the label. services.json wins:
a discovered container whose service name, or whose container, services.json already watches
is left to services.json.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loguru import logger

from supervisor.clients.docker import ContainerNotFound, DockerClient, DockerUnavailable
from supervisor.config.loader import parse_config
from supervisor.config.services import SERVICE_NAME, ConfigError
from supervisor.config.settings import Settings

# Fields a label may not set: lists and objects do not fit in a label.
NOT_LABELS = frozenset({"checks", "ladder", "restart", "dependsOn", "reconnect", "container"})
LABEL_ACTIONS = frozenset({"create", "start", "destroy", "rename"})


@dataclass
class Discovered:
    service: str
    container_id: str
    container: str


@dataclass
class ServiceSlot:
    """What the daemon lets discovery do: add and remove services, and see services.json."""

    file_services: Callable[[], dict[str, Any]]  # services.json's enabled services
    recovery_defaults: Callable[[], dict[str, Any]]  # errorMonitoring.recovery, as JSON
    add: Callable[[str, Any], Awaitable[None]]
    remove: Callable[[str], Awaitable[None]]


class LabelDiscovery:
    def __init__(self, docker: DockerClient, slot: ServiceSlot, settings: Settings,
                 prefix: str = "soulfra") -> None:
        self.docker = docker
        self.slot = slot
        self.settings = settings
        self.prefix = prefix
        self.found: dict[str, Discovered] = {}  # container id -> service
        self.rejected: dict[str, list[str]] = {}  # container name -> problems
        self.left_to_file: dict[str, str] = {}  # container name -> why services.json wins

    @property
    def enable_label(self) -> str:
        return f"{self.prefix}.enable=true"

    def status(self) -> dict[str, Any]:
        return {"labelPrefix": self.prefix,
                "discovered": {d.service: d.container for d in self.found.values()},
                "rejected": self.rejected, "leftToServicesJson": self.left_to_file}

    async def sync(self) -> None:
        """Match the watched set to the labelled containers there are now."""
        listed = await self.docker.containers(self.enable_label)
        ids = {str(c.get("Id")) for c in listed}
        for cid in [c for c in self.found if c not in ids]:
            await self._forget(cid)
        for c in listed:
            await self._consider(str(c.get("Id")))

    async def yield_to(self, file_services: set[str]) -> None:
        """services.json now defines some discovered services: they are its own from now on."""
        for cid, found in list(self.found.items()):
            if found.service in file_services:
                self.left_to_file[found.container] = \
                    f"services.json defines service {found.service!r}"
                await self._forget(cid)

    async def on_event(self, action: str, cid: str, attrs: dict[str, Any]) -> None:
        if action not in LABEL_ACTIONS:
            return
        if action == "destroy" or action == "rename":
            await self._forget(cid)
            self.rejected.pop(str(attrs.get("name", "")), None)
            self.left_to_file.pop(str(attrs.get("oldName", attrs.get("name", ""))), None)
        if action != "destroy" and attrs.get(f"{self.prefix}.enable") == "true":
            await self._consider(cid)

    async def _consider(self, cid: str) -> None:
        try:
            info = await self.docker.inspect(cid)
        except ContainerNotFound:
            return
        except DockerUnavailable as exc:
            logger.warning("discovery: cannot inspect container {}: {}", cid[:12], exc)
            return
        name = str(info.get("Name", "")).lstrip("/")
        labels = (info.get("Config") or {}).get("Labels") or {}
        parsed = self.service_from_labels(name, labels, info)
        if isinstance(parsed, list):
            if self.rejected.get(name) != parsed:
                logger.error("discovery: container {} has invalid labels: {}", name,
                             "; ".join(parsed))
            self.rejected[name] = parsed
            await self._forget(cid)
            return
        self.rejected.pop(name, None)
        service, svc = parsed
        why = self._taken_by_file(service, name, cid)
        if why is not None:
            self.left_to_file[name] = why
            await self._forget(cid)
            return
        self.left_to_file.pop(name, None)
        known = self.found.get(cid)
        if known is not None and known.service == service:
            return
        if known is not None:
            await self._forget(cid)
        if any(d.service == service for d in self.found.values()):
            self.rejected[name] = [f"label {self.prefix}.name: service {service!r} is already "
                                   "a discovered container's"]
            return
        self.found[cid] = Discovered(service, cid, name)
        logger.info("discovery: watching container {} as service {}", name, service)
        await self.slot.add(service, svc)

    async def _forget(self, cid: str) -> None:
        gone = self.found.pop(cid, None)
        if gone is not None:
            logger.info("discovery: container {} is gone; no longer watching service {}",
                        gone.container, gone.service)
            await self.slot.remove(gone.service)

    def _taken_by_file(self, service: str, container: str, cid: str) -> str | None:
        for name, svc in self.slot.file_services().items():
            if name == service:
                return f"services.json defines service {service!r}"
            for check in getattr(svc, "checks", []):
                ref = getattr(check, "container", None)
                if ref is not None and (ref == container or cid.startswith(ref)):
                    return f"services.json service {name!r} watches this container"
        return None

    def service_from_labels(self, container: str, labels: dict[str, str],
                            info: dict[str, Any]) -> tuple[str, Any] | list[str]:
        """(service name, validated service config), or the problems, each naming a label."""
        prefix = self.prefix + "."
        fields = {k[len(prefix):]: v for k, v in labels.items() if k.startswith(prefix)}
        fields.pop("enable", None)
        service = fields.pop("name", None) or _service_name(container)
        problems = [f"label {prefix}{f}: cannot be set by a label (use services.json)"
                    for f in fields if f in NOT_LABELS]
        if not SERVICE_NAME.match(service):
            problems.append(f"label {prefix}name: service name {service!r} must match "
                            f"{SERVICE_NAME.pattern}")
        if problems:
            return problems
        data: dict[str, Any] = {"host": _reachable_host(info), **fields, "container": container}
        doc = {"errorMonitoring": {"services": {service: data},
                                   "recovery": self.slot.recovery_defaults()}}
        try:
            parsed = parse_config(doc, self.settings, source=f"labels of {container}",
                                  strict=False)
        except ConfigError as exc:
            return [self._name_label(p, service) for p in exc.problems]
        return service, parsed.error_monitoring.services[service]

    def _name_label(self, problem: str, service: str) -> str:
        """'errorMonitoring.services.web.port: must be <= 65535' -> 'label soulfra.port: ...'"""
        head = f"errorMonitoring.services.{service}."
        if problem.startswith(head):
            path, _, msg = problem[len(head):].partition(": ")
            return f"label {self.prefix}.{path.split('.')[0].split('[')[0]}: {msg}"
        return problem


def _service_name(container: str) -> str:
    """A container name as a service name (compose names are already fine)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", container)[:64] or "container"


def _reachable_host(info: dict[str, Any]) -> str:
    """Where the container's port is reached: its address on its first network with one
    (a compose network, Docker's bridge), else the loopback (host networking)."""
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    for net in networks.values():
        address = (net or {}).get("IPAddress")
        if address:
            return str(address)
    return "127.0.0.1"
