"""Several daemons on one machine as the nodes of one cluster: each with its own port, data
directory and node name, all sharing the Redis (and optionally PostgreSQL) a test started."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.helpers import DaemonProcess


def cluster_node(tmp: Path, name: str, config: dict[str, Any], redis_url: str,
                 store_url: str | None = None, ttl_s: float = 3,
                 env: dict[str, str] | None = None) -> DaemonProcess:
    """A daemon (not started) that joins the cluster at `redis_url` as node `name`."""
    home = tmp / name
    home.mkdir(parents=True, exist_ok=True)
    node_env = {"SOULFRA_NODE_NAME": name, "SOULFRA_CLUSTER_REDIS_URL": redis_url,
                "SOULFRA_CLUSTER_TTL_S": str(ttl_s), **(env or {})}
    if store_url:
        node_env["SOULFRA_STORE_URL"] = store_url
    return DaemonProcess(home, config, env=node_env)
