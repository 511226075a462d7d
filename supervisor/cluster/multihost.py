"""Everything a daemon runs with other hosts, assembled in one place: the shared store
(SOULFRA_STORE_URL), the cluster's incident keys and membership (SOULFRA_CLUSTER_REDIS_URL), and
the MQTT state publisher (SOULFRA_EVENTS_MQTT_URL). Each part exists only when its setting is
set; this object registers their status sections and shutdown hooks itself."""

from __future__ import annotations

from typing import Protocol

from supervisor.cluster.incidents import cluster_incidents
from supervisor.cluster.wiring import ClusterHost, ClusterNode, state_publisher
from supervisor.core.taxonomy import SHARED_STORE_DOWN
from supervisor.observability.outages import OwnOutage
from supervisor.observability.selfwatch import SelfWatch
from supervisor.observability.status import StatusBoard
from supervisor.recovery.manager import RecoveryManager
from supervisor.store.shared.outage_pages import SharedOutagePages
from supervisor.store.shared.replicator import Replicator
from supervisor.store.shared.shared import SharedStore
from supervisor.systemd.shutdown import ShutdownHook


class MultiHostDaemon(ClusterHost, Protocol):
    """What the multi-host parts need of the daemon, beyond what cluster mode needs."""

    recovery: RecoveryManager
    status: StatusBoard
    shutdown_hooks: list[tuple[str, ShutdownHook]]


class MultiHost:
    """Built with the daemon; started in two steps, `start_before_writes` and
    `start_after_api`, at the points of the daemon's start where each must happen."""

    def __init__(self, host: MultiHostDaemon, selfwatch: SelfWatch) -> None:
        self.host = host
        s = host.settings
        # SOULFRA_STORE_URL: this node's rows shipped to PostgreSQL (supervisor/store/shared/)
        self.shared_store: SharedStore | None = None
        self.replicator: Replicator | None = None
        if s.store_url is not None:
            self.shared_store = SharedStore(s.store_url.get_secret_value())
            self.replicator = Replicator(
                host.store, self.shared_store, s.node_name,
                OwnOutage("shared store", SHARED_STORE_DOWN, selfwatch.report, host.bus,
                          host.store))
            host.status.register("sharedStore", self.replicator.to_dict)
            # the daemon's own outages (Redis, the shared store) page once for the cluster
            host.alerts.outage_leader = SharedOutagePages(self.shared_store, s.node_name)
        incidents = cluster_incidents(host.alerts, s, host.recovery.is_shared)
        if incidents is not None:
            host.shutdown_hooks.append(("close the cluster's incident keys", incidents.close))
        # Cluster mode (docs/cluster.md): membership in Redis, lapses, GET .../cluster.
        self.cluster = ClusterNode(host, selfwatch) if s.cluster_mode else None
        self.mqtt_states = state_publisher(host)  # SOULFRA_EVENTS_MQTT_URL

    async def start_before_writes(self) -> None:
        """Right after the local store opens: the replicator's triggers must be on before
        anything writes, or those rows never reach the shared store."""
        if self.replicator is not None:
            await self.replicator.prepare()
            self.replicator.start()
            self.host.shutdown_hooks.append(("ship to the shared store", self.replicator.stop))

    def start_after_api(self) -> None:
        """Once the API listens: the node's cluster record names the API's URL. Leaving the
        cluster and saying offline on MQTT are the first shutdown hooks (MQTT's before)."""
        h = self.host
        if self.cluster is not None:
            self.cluster.start()
            h.status.register("cluster", self.cluster.membership.to_dict)
            h.shutdown_hooks.insert(0, ("leave the cluster", self.cluster.stop))
        if self.mqtt_states is not None:
            self.mqtt_states.start()
            h.status.register("mqttStates", self.mqtt_states.to_dict)
            h.shutdown_hooks.insert(0, ("say offline on MQTT", self.mqtt_states.stop))
