"""The daemon's side of cluster mode: what a node needs of the daemon (ClusterHost), the
membership built from it, and the view the API serves, standalone or not."""

from __future__ import annotations

import time
from typing import Any, Protocol

from loguru import logger

from supervisor import __version__
from supervisor.alerts.service import AlertService
from supervisor.clients.redis import redis_errors
from supervisor.cluster.lapses import LapseAlerts
from supervisor.cluster.membership import Local, Membership
from supervisor.cluster.mqtt_states import StatePublisher
from supervisor.cluster.record import NodeRecord
from supervisor.cluster.view import build_view, read_view
from supervisor.config.settings import Settings
from supervisor.core.events import EventBus
from supervisor.core.incidents import IncidentRecorder
from supervisor.core.redaction import redact_text
from supervisor.core.state import StateTracker
from supervisor.core.taxonomy import CLUSTER_UNREACHABLE
from supervisor.observability.outages import OwnOutage
from supervisor.observability.selfwatch import SelfWatch
from supervisor.store.database import Store


class ClusterHost(Protocol):
    """What cluster mode needs of the daemon."""

    settings: Settings
    bus: EventBus
    tracker: StateTracker
    incidents: IncidentRecorder
    alerts: AlertService
    store: Store
    started_at: float
    api_url: str

    @property
    def services(self) -> dict[str, Any]: ...


def local_of(host: ClusterHost) -> Local:
    """This node as its record shows it: API URL, services and states, the shared ones."""
    shared = sorted(n for n, s in host.services.items() if s.enabled and s.shared)
    return Local(api_url=host.api_url,
                 services={n: str(st.state) for n, st in host.tracker.services.items()},
                 shared=shared)


class ClusterNode:
    """Membership plus the view; built only when SOULFRA_CLUSTER_REDIS_URL is set."""

    def __init__(self, host: ClusterHost, selfwatch: SelfWatch) -> None:
        s = host.settings
        assert s.cluster_redis_url is not None
        self.host = host
        url = s.cluster_redis_url.get_secret_value()
        self.membership = Membership(
            url, s.node_name, s.cluster_ttl_s, host.bus, version=__version__,
            started_at=host.started_at, local=lambda: local_of(host),
            progressing=lambda: not selfwatch.scheduler_stalled,
            reporter=LapseAlerts(host.incidents, host.alerts, s.node_name, s.cluster_ttl_s),
            outage=OwnOutage(f"cluster Redis {redact_text(url)} (this node monitors its local "
                             "services only until it is back)", CLUSTER_UNREACHABLE,
                             selfwatch.report, host.bus, host.store))

    def start(self) -> None:
        self.membership.start()

    async def stop(self) -> None:
        await self.membership.stop()

    async def view(self) -> dict[str, Any]:
        m = self.membership
        try:
            return await read_view(m.redis, m.name, m.ttl_s)
        except redis_errors() as exc:
            logger.debug("cluster view from the last round: Redis unreachable: {}", exc)
        # Redis is out: what the last round saw, and this node as it is now.
        live: dict[str, NodeRecord | None] = {**m.alive, m.name: m.record()}
        return build_view(m.name, standalone=False, ttl_s=m.ttl_s,
                          members=sorted(m.members | {m.name}), live=live, last={},
                          leases={}, reachable=False)


def standalone_view(host: ClusterHost) -> dict[str, Any]:
    """A daemon without SOULFRA_CLUSTER_REDIS_URL: itself, and nothing shared."""
    local = local_of(host)
    me = NodeRecord(name=host.settings.node_name, version=__version__,
                    started_at=round(host.started_at * 1000),
                    last_seen=round(time.time() * 1000), api_url=local.api_url,
                    services=local.services)
    return build_view(me.name, standalone=True, ttl_s=None, members=[me.name],
                      live={me.name: me}, last={}, leases={})


def state_publisher(host: ClusterHost) -> StatePublisher | None:
    """With SOULFRA_EVENTS_MQTT_URL: state changes retained on MQTT (with or without Redis)."""
    url = host.settings.events_mqtt_url
    if url is None:
        return None
    return StatePublisher(url.get_secret_value(), host.settings.node_name, host.bus,
                          lambda: {n: str(st.state) for n, st in host.tracker.services.items()})
