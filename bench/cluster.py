"""Cluster membership at scale: many nodes against one real redis-server.

    .venv/bin/python -m bench.cluster [NODES] [TTL_S] [LAPSES]      (default 200 15 3)

NODES light nodes run in this process, each a real `supervisor.cluster.membership.Membership`
(its own Redis connection, its own rounds: renew and watch every TTL/3), beside one real
daemon (a subprocess, `soulfra-supervisor run` in cluster mode) with the same Redis. Measured:
- the cluster view's latency: GET /api/monitoring/cluster on the real daemon, NODES+1 members;
- Redis operations per second per node: INFO commandstats over a window, divided by the
  nodes, and the server's instantaneous_ops_per_sec;
- the time to notice a lapsed node: a light node stops without leaving (its task is
  cancelled, like a SIGKILL); from its last renewal to the first watcher's `node_lapsed`, to
  the last watcher's, and to the real daemon's view showing it not alive.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from loguru import logger

from supervisor.cluster.membership import Local, Membership
from supervisor.cluster.record import NodeRecord
from supervisor.core.events import EventBus
from tests.support.cluster import cluster_node
from tests.support.helpers import services_file, wait_for
from tests.support.servers import RedisServer


class _Quiet:
    """The lapse reporter of a light node: the bench counts lapses from the bus instead."""

    async def lapsed(self, node: str, last: NodeRecord | None, marker: dict[str, Any]) -> None:
        return None

    async def back(self, node: str, record: NodeRecord, marker: dict[str, Any]) -> None:
        return None

    async def seen_back(self, node: str) -> None:
        return None


def _light(url: str, name: str, ttl_s: float) -> Membership:
    services = {f"svc-{i}": "healthy" for i in range(5)}
    return Membership(url, name, ttl_s, EventBus(ring_size=5000), version="bench",
                      started_at=time.time(),
                      local=lambda: Local(f"http://127.0.0.1:1/{name}", services, []),
                      progressing=lambda: True, reporter=_Quiet(),
                      report_outage=lambda exc: None)


def _get_json(url: str) -> tuple[float, Any]:
    t = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.loads(resp.read())
    return (time.perf_counter() - t) * 1000, body


async def _commands(r: aioredis.Redis) -> int:
    stats = await r.info("commandstats")
    return sum(int(v["calls"]) for v in stats.values() if isinstance(v, dict))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


async def run(nodes: int, ttl_s: float, lapses: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    server = RedisServer(tmp / "redis").start()
    daemon = cluster_node(tmp, "real", services_file({}), server.url, ttl_s=ttl_s)
    light = [_light(server.url, f"n{i:03d}", ttl_s) for i in range(nodes)]
    r = aioredis.Redis.from_url(server.url, decode_responses=True)
    out: dict[str, Any] = {"nodes": nodes + 1, "ttlS": ttl_s}
    try:
        daemon.start()
        for m in light:
            m.start()
        view_url = daemon.url + "/api/monitoring/cluster"
        await asyncio.to_thread(wait_for, lambda: sum(
            n["alive"] for n in _get_json(view_url)[1]["nodes"]) == nodes + 1, 60, 0.5,
            "every node alive in the daemon's view")
        await asyncio.sleep(ttl_s)  # past every node's grace: steady state

        window = max(20.0, 3 * ttl_s)
        before = await _commands(r)
        t0 = time.monotonic()
        await asyncio.sleep(window)
        calls = await _commands(r) - before
        per_s = calls / (time.monotonic() - t0)
        info = await r.info("stats")
        out["redis"] = {"commandsPerS": round(per_s, 1),
                        "perNodePerS": round(per_s / (nodes + 1), 2),
                        "instantaneousOpsPerS": info["instantaneous_ops_per_sec"],
                        "windowS": window}

        samples = [(await asyncio.to_thread(_get_json, view_url))[0] for _ in range(50)]
        out["viewMs"] = {"median": round(statistics.median(samples), 1),
                         "p95": round(_pct(samples, 0.95), 1), "max": round(max(samples), 1),
                         "requests": len(samples)}

        out["lapses"] = []
        dead: set[str] = set()
        for k in range(lapses):
            victim = light[k]
            await victim.round()  # a renewal now: the lapse is timed from it
            renewed = time.monotonic()
            victim.halt()  # no goodbye, like a SIGKILL
            dead.add(victim.name)
            watchers = [m for m in light if m.name not in dead]
            seen_at: dict[str, float] = {}
            view_at = None
            while len(seen_at) < len(watchers) or view_at is None:
                await asyncio.sleep(0.05)
                now = time.monotonic()
                for m in watchers:
                    if m.name not in seen_at and victim.name in m.lapsed:
                        seen_at[m.name] = now
                if view_at is None:
                    _, body = await asyncio.to_thread(_get_json, view_url)
                    if not next(n for n in body["nodes"] if n["name"] == victim.name)["alive"]:
                        view_at = now
                if now - renewed > 4 * ttl_s:
                    break
            firsts = sorted(seen_at.values())
            out["lapses"].append({
                "node": victim.name,
                "firstNoticedS": round(firsts[0] - renewed, 2) if firsts else None,
                "allNoticedS": round(firsts[-1] - renewed, 2) if len(firsts) == len(watchers)
                else None,
                "viewNotAliveS": round(view_at - renewed, 2) if view_at else None})
        loadavg = await asyncio.to_thread(Path("/proc/loadavg").read_text)
        out["loadavg"] = loadavg.split()[:3]
    finally:
        for m in light:
            await m.stop()
        await r.aclose()
        daemon.stop()
        server.kill()
    return out


def main(argv: list[str]) -> int:
    nodes = int(argv[0]) if argv else 200
    ttl_s = float(argv[1]) if len(argv) > 1 else 15.0
    lapses = int(argv[2]) if len(argv) > 2 else 3
    logger.remove()  # 200 nodes' join and leave lines are not the result
    logger.add(sys.stderr, level="WARNING")
    result = asyncio.run(run(nodes, ttl_s, lapses))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
