"""The cluster as one node sees it (GET /api/monitoring/cluster): every node, alive or not,
with its services, and every shared service with its state on each node and who holds its
recovery lease, and (`gaveUp`) which node gave up on it, if one did. `build_view` is pure;
`read_view` reads it from Redis in three round trips (the set; the records; the leases and
gave-up marks of the shared services).

A node that is not alive shows what it last wrote (`keys.node_last_key`), with every service
"unknown": nobody watches them now. A shared service is one that any node declares
`"shared": true`; a node that does not run it has no entry in its `states`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from supervisor.cluster import keys
from supervisor.cluster.record import UNKNOWN, NodeRecord, names, text

if TYPE_CHECKING:
    import redis.asyncio as aioredis


def node_entry(name: str, alive: bool, rec: NodeRecord | None) -> dict[str, Any]:
    services = dict(sorted(rec.services.items())) if rec is not None else {}
    if not alive:
        services = dict.fromkeys(services, UNKNOWN)
    if rec is None:
        return {"name": name, "alive": alive, "lastSeen": None, "version": None,
                "apiUrl": None, "services": services}
    return {"name": name, "alive": alive, "lastSeen": rec.last_seen or None,
            "version": rec.version or None, "apiUrl": rec.api_url or None,
            "services": services}


def build_view(me: str, *, standalone: bool, ttl_s: float | None, members: list[str],
               live: dict[str, NodeRecord | None], last: dict[str, NodeRecord | None],
               leases: dict[str, str | None], reachable: bool = True,
               gave_up: dict[str, str | None] | None = None) -> dict[str, Any]:
    nodes = []
    shared: set[str] = set()
    for name in sorted(set(members) | {me}):
        rec = live.get(name)
        alive = rec is not None
        rec = rec or last.get(name)
        nodes.append(node_entry(name, alive, rec))
        if rec is not None:
            shared.update(rec.shared)
    by_name = {n["name"]: n for n in nodes}
    shared_services = []
    for service in sorted(shared):
        states = {name: n["services"][service] for name, n in by_name.items()
                  if service in n["services"]}
        value = leases.get(service)
        parsed = keys.parse_lease_value(value) if value else None
        shared_services.append({"name": service, "states": states,
                                "leaseHolder": parsed[0] if parsed else None,
                                "fencingToken": parsed[1] if parsed else None,
                                "gaveUp": _gave_up((gave_up or {}).get(service))})
    out: dict[str, Any] = {"node": me, "standalone": standalone, "ttlSeconds": ttl_s,
                           "nodes": nodes, "sharedServices": shared_services}
    if not standalone:
        out["redisReachable"] = reachable
    return out


def _gave_up(value: str | None) -> dict[str, Any] | None:
    return keys.parse_gave_up_value(value) if value is not None else None


async def read_view(redis: aioredis.Redis, me: str, ttl_s: float) -> dict[str, Any]:
    """Raises redis-py's errors when Redis cannot be read (the caller falls back)."""
    members = sorted(set(names(await redis.smembers(keys.nodes_set()))) | {me})
    pipe = redis.pipeline(transaction=False)
    pipe.mget([keys.node_key(n) for n in members])
    pipe.mget([keys.node_last_key(n) for n in members])
    live_t, last_t = await pipe.execute()
    live = {n: NodeRecord.from_json(n, t) for n, t in zip(members, live_t, strict=True)}
    last = {n: NodeRecord.from_json(n, t) for n, t in zip(members, last_t, strict=True)}
    shared = sorted({s for r in (*live.values(), *last.values()) if r is not None
                     for s in r.shared})
    leases: dict[str, str | None] = {}
    gave_up: dict[str, str | None] = {}
    if shared:
        values = await redis.mget([keys.lease_key(s) for s in shared]
                                  + [keys.gave_up_key(s) for s in shared])
        leases = {s: text(v) for s, v in zip(shared, values[:len(shared)], strict=True)}
        gave_up = {s: text(v) for s, v in zip(shared, values[len(shared):], strict=True)}
    return build_view(me, standalone=False, ttl_s=ttl_s, members=members, live=live,
                      last=last, leases=leases, gave_up=gave_up)
