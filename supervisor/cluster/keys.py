"""Every Redis key the nodes of a cluster share, in one place, so that the node that writes a
key and the node that reads it (the cluster view, a takeover) agree on its name and value."""

from __future__ import annotations

import json
from typing import Any

PREFIX = "soulfra:cluster:"


def node_key(node: str) -> str:
    """A node's membership record (JSON), with a TTL of SOULFRA_CLUSTER_TTL_S."""
    return f"{PREFIX}node:{node}"


def nodes_set() -> str:
    """Every node that ever joined and has not left cleanly: a member without a live
    node_key has lapsed."""
    return f"{PREFIX}nodes"


def node_last_key(node: str) -> str:
    """The last record a node wrote (JSON, no TTL): what the others know of a lapsed node
    (last seen, version, services, the generation its lapse guard is named after)."""
    return f"{PREFIX}last:{node}"


def lapse_key(node: str, generation: str) -> str:
    """SET NX by the one node that records and alerts a lapse of this node generation
    (incarnation.epoch); its value names that node."""
    return f"{PREFIX}lapsed:{node}:{generation}"


def down_key(node: str) -> str:
    """Set with the lapse guard (value: the generation that lapsed); whoever deletes it once
    the node is back sends the one "recovered"."""
    return f"{PREFIX}down:{node}"


def lease_key(service: str) -> str:
    """Who may recover a shared service now: lease_value(node, token), SET NX PX."""
    return f"{PREFIX}lease:{service}"


def fence_key(service: str) -> str:
    """The fencing counter of a shared service's lease (INCR on every grant)."""
    return f"{PREFIX}fence:{service}"


def gave_up_key(service: str) -> str:
    """Set when a node gave up on a shared service (its ladder exhausted or it flapped): JSON
    {node, reason, at}; no other node starts a ladder of its own until the service is
    healthy again (whoever sees it healthy deletes the key) or a human forces a recovery."""
    return f"{PREFIX}gave-up:{service}"


def incident_key(service: str, fingerprint: str) -> str:
    """The node that sent "firing" for an incident; whoever deletes it sends "recovered"."""
    return f"{PREFIX}incident:{service}:{fingerprint}"


def lease_value(node: str, token: int) -> str:
    return f"{node}|{token}"


def parse_lease_value(value: str) -> tuple[str, int] | None:
    """(node, token) of a lease_value, or None for anything else found under the key."""
    node, sep, token = value.rpartition("|")
    if not sep or not node or not token.isdigit():
        return None
    return node, int(token)


def gave_up_value(node: str, reason: str, at: float) -> str:
    return json.dumps({"node": node, "reason": reason, "at": at})


def parse_gave_up_value(value: str) -> dict[str, Any]:
    """{node, reason, at} of a gave_up_value; anything else found under the key still means
    given up on, by an unknown node at an unknown time (node and at None)."""
    try:
        seen = json.loads(value)
        return {"node": str(seen["node"]), "reason": str(seen["reason"]),
                "at": float(seen["at"])}
    except (ValueError, KeyError, TypeError):
        return {"node": None, "reason": value, "at": None}
