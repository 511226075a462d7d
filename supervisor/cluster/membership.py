"""This node's membership of the cluster, and its watch over the others.

Every `interval_s` (a third of the TTL) one task on the event loop does one round:
- renew: write this node's record under `keys.node_key` with PX = the TTL (and without TTL
  under `keys.node_last_key`), and be in `keys.nodes_set()`. It renews only while the
  self-watch says the scheduler makes progress (the one stall verdict, also what withholds
  the systemd watchdog ping): a node whose checks have stopped must lapse rather than vouch
  for itself. A blocked loop or a SIGSTOPped process renews nothing, by construction: there is
  no side thread. Finding its own key gone (`SET ... GET` answers nothing), the node lapsed:
  it rejoins with a new epoch, so that a later lapse is a new generation with its own alert.
- watch: read the set and every member's key; a member whose key is gone has lapsed. Every
  node that notices publishes `node_lapsed` on its own bus; one node in the whole cluster
  wins `SET NX` on `keys.lapse_key(node, generation)` and records the error and alerts
  (LapseReporter). A lapsed node seen alive again is `node_rejoined`; whoever deletes its
  `keys.down_key` sends the one "recovered".
- Redis unreachable: the round fails, the outage is the daemon's own stored error (once per
  outage), local monitoring goes on untouched, and the next round that reaches Redis rejoins.
  For one TTL after (re)joining, this node judges no lapses: the others may be rejoining too.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from supervisor.clients.redis import redis_client, redis_errors
from supervisor.cluster import keys
from supervisor.cluster.record import NodeRecord, Round, Verdicts, judge, names, text
from supervisor.core.events import EventBus
from supervisor.core.redaction import redact_text
from supervisor.core.tasks import cancel_and_wait

if TYPE_CHECKING:
    import redis.asyncio as aioredis

# A lapse guard outlives any lapse worth alerting once (a generation is never reused anyway).
GUARD_TTL_MS = 7 * 24 * 3600 * 1000


@dataclass
class Local:
    """What this node says about itself in its record (read at every renewal)."""

    api_url: str
    services: dict[str, str]
    shared: list[str]


class LapseReporter(Protocol):
    """Records and alerts a lapse; called on the one node that won the lapse guard."""

    async def lapsed(self, node: str, last: NodeRecord | None, marker: dict[str, Any]) -> None:
        ...

    async def back(self, node: str, record: NodeRecord, marker: dict[str, Any]) -> None: ...

    async def seen_back(self, node: str) -> None:
        """Called on every node that sees a node it knew lapsed come back (whoever sent the
        "recovered"): what this node began for the lapse ends here too."""


class Outage(Protocol):
    """Cluster Redis out of reach: stored and alerted once per outage (observability.outages)."""

    def failed(self, reason: str) -> None: ...

    async def ok(self) -> None: ...


class Membership:
    def __init__(self, redis_url: str, name: str, ttl_s: float, bus: EventBus, *,
                 version: str, started_at: float, local: Callable[[], Local],
                 progressing: Callable[[], bool], reporter: LapseReporter,
                 outage: Outage,
                 interval_s: float | None = None) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self.interval_s = interval_s if interval_s is not None else max(0.2, ttl_s / 3)
        self.bus = bus
        self.version = version
        self.started_at = started_at
        self._local = local
        self._progressing = progressing
        self._reporter = reporter
        self._outage = outage
        self.url_shown = redact_text(redis_url)
        self.redis: aioredis.Redis = redis_client(
            redis_url, timeout_s=min(2.0, max(0.5, self.interval_s)),
            client_name=f"soulfra-node-{name}")
        self.incarnation = secrets.token_hex(4)
        self.epoch = 0
        self.joined = False  # renewed at least once since start or the last outage
        self.ever_joined = False
        self.joined_at = 0.0  # monotonic
        self.reachable = True
        self.outage_since: float | None = None
        self.renewing = True  # False while the scheduler is stalled
        self.rounds = 0
        # What the last successful watch round saw (the view's fallback while Redis is out).
        self.members: set[str] = set()
        self.alive: dict[str, NodeRecord] = {}
        self.lapsed: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cluster")

    def halt(self) -> None:
        """Stop every round without leaving, as a crash would (the bench's dying node)."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Leave cleanly: the key and the set member go, so nobody reports a lapse."""
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
        try:
            async with asyncio.timeout(2.0):
                pipe = self.redis.pipeline(transaction=False)
                pipe.delete(keys.node_key(self.name), keys.node_last_key(self.name))
                pipe.srem(keys.nodes_set(), self.name)
                await pipe.execute()
            self.bus.publish("node_left", None, None, node=self.name, local=True)
            logger.info("cluster: {} left {}", self.name, self.url_shown)
        except (TimeoutError, *redis_errors()) as exc:
            logger.warning("cluster: could not leave cleanly (the others will see a lapse): "
                           "{}", exc)
        await self.redis.aclose()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            try:
                await self.round()
            except Exception:  # a bug must not end membership: logged (and stored), next round
                logger.exception("cluster: membership round failed")
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - began)))

    async def round(self) -> None:
        """One renewal (while the scheduler makes progress) and one look at the others."""
        self.rounds += 1
        try:
            if self._progressing():
                await self._renew()
            elif self.renewing:
                self.renewing = False
                logger.error("cluster: the scheduler makes no progress; {} stops renewing its "
                             "membership and will lapse", self.name)
            await self._watch()
        except redis_errors() as exc:
            self._unreachable(exc)
            return
        if not self.reachable:
            await self._reachable_again()

    # -- renewal ----------------------------------------------------------------------------
    def record(self) -> NodeRecord:
        local = self._local()
        return NodeRecord(name=self.name, version=self.version,
                          started_at=round(self.started_at * 1000),
                          last_seen=round(time.time() * 1000), api_url=local.api_url,
                          services=local.services, shared=local.shared,
                          incarnation=self.incarnation, epoch=self.epoch)

    async def _write(self, rec: NodeRecord) -> str | None:
        record = rec.to_json()
        pipe = self.redis.pipeline(transaction=False)
        pipe.set(keys.node_key(self.name), record, px=round(self.ttl_s * 1000), get=True)
        pipe.set(keys.node_last_key(self.name), record)
        pipe.sadd(keys.nodes_set(), self.name)
        old, _, _ = await pipe.execute()
        return text(old)

    async def _renew(self) -> None:
        old = await self._write(self.record())
        if not self.renewing:
            self.renewing = True
            logger.info("cluster: the scheduler makes progress again; {} renews again",
                        self.name)
        if old is not None:
            prev = NodeRecord.from_json(self.name, old)
            if prev is not None and prev.incarnation not in ("", self.incarnation):
                logger.error("cluster: another daemon also calls itself {!r} (its record was "
                             "replaced); give each host its own SOULFRA_NODE_NAME", self.name)
        if old is None and self.ever_joined:
            # Our key was gone (stopped, starved, cut off from Redis): we lapsed, and the
            # others may have said so. A new epoch is a new generation with its own guard.
            self.epoch += 1
            await self._write(self.record())
            self.bus.publish("node_rejoined", None, None, node=self.name, local=True,
                             epoch=self.epoch)
            logger.warning("cluster: {}'s membership had lapsed; rejoined (epoch {})",
                           self.name, self.epoch)
        elif not self.ever_joined:
            self.bus.publish("node_joined", None, None, node=self.name, local=True,
                             incarnation=self.incarnation)
            logger.info("cluster: {} joined {} (TTL {:g} s)", self.name, self.url_shown,
                        self.ttl_s)
        if old is None or not self.joined:
            self.joined_at = time.monotonic()
        self.joined = self.ever_joined = True

    # -- watching the others ----------------------------------------------------------------
    async def read_round(self) -> Round:
        members = names(await self.redis.smembers(keys.nodes_set()))
        if not members:
            return Round([], {}, {})
        pipe = self.redis.pipeline(transaction=False)
        pipe.mget([keys.node_key(n) for n in members])
        pipe.mget([keys.down_key(n) for n in members])
        live, down = await pipe.execute()
        return Round(members, {n: NodeRecord.from_json(n, t) for n, t in zip(members, live,
                                                                            strict=True)},
                     {n: text(t) for n, t in zip(members, down, strict=True)})

    async def _watch(self) -> None:
        rnd = await self.read_round()
        may_judge = self.joined and time.monotonic() - self.joined_at >= self.ttl_s
        v: Verdicts = judge(self.name, set(self.alive), self.members, rnd, self.lapsed,
                            may_judge)
        self.members = set(rnd.members)
        self.alive = {n: r for n, r in rnd.alive.items() if r is not None}
        for name in v.joined:
            if name in self.lapsed:
                self.lapsed.discard(name)
                self.bus.publish("node_rejoined", None, None, node=name)
                logger.info("cluster: node {} is back", name)
                await self._reporter.seen_back(name)
            else:
                self.bus.publish("node_joined", None, None, node=name)
                logger.info("cluster: node {} joined", name)
        for name in v.left:
            self.lapsed.discard(name)
            self.bus.publish("node_left", None, None, node=name)
            logger.info("cluster: node {} left", name)
        for name in v.lapsed:
            await self._lapsed(name)
        for name in v.back:
            await self._back(name, self.alive[name])

    async def _lapsed(self, name: str) -> None:
        last = NodeRecord.from_json(name, await self.redis.get(keys.node_last_key(name)))
        generation = last.generation if last is not None else "unknown.0"
        self.lapsed.add(name)
        self.bus.publish("node_lapsed", None, None, node=name, generation=generation,
                         lastSeen=last.last_seen if last else None)
        won = await self.redis.set(keys.lapse_key(name, generation), self.name, nx=True,
                                   px=GUARD_TTL_MS)
        logger.warning("cluster: node {} lapsed (generation {}){}", name, generation,
                       "; this node reports it" if won else "")
        if not won:
            return
        marker = {"generation": generation, "correlationId": f"node_{name}_{generation}",
                  "at": round(time.time() * 1000), "by": self.name}
        await self.redis.set(keys.down_key(name), json.dumps(marker))
        await self._reporter.lapsed(name, last, marker)

    async def _back(self, name: str, rec: NodeRecord) -> None:
        found = text(await self.redis.getdel(keys.down_key(name)))
        if not found:
            return  # another node sends the "recovered"
        try:
            marker = json.loads(found)
        except ValueError:
            marker = {}
        await self._reporter.back(name, rec, marker if isinstance(marker, dict) else {})

    # -- Redis out of reach -----------------------------------------------------------------
    def _unreachable(self, exc: BaseException) -> None:
        if not self.reachable:
            return
        self.reachable, self.joined = False, False
        self.outage_since = time.monotonic()
        logger.error("cluster: Redis {} unreachable ({}); monitoring local services only",
                     self.url_shown, exc)
        self.bus.publish("cluster_unreachable", None, None, node=self.name, error=str(exc))
        self._outage.failed(f"{type(exc).__name__}: {exc}")

    async def _reachable_again(self) -> None:
        down_s = time.monotonic() - (self.outage_since or time.monotonic())
        self.reachable, self.outage_since = True, None
        logger.info("cluster: Redis {} reachable again after {:.1f} s", self.url_shown, down_s)
        self.bus.publish("cluster_reconnected", None, None, node=self.name,
                         outageS=round(down_s, 1))
        await self._outage.ok()

    def to_dict(self) -> dict[str, Any]:
        """For /status."""
        return {"node": self.name, "reachable": self.reachable, "renewing": self.renewing,
                "joined": self.joined, "ttlSeconds": self.ttl_s,
                "intervalSeconds": round(self.interval_s, 3), "members": len(self.members),
                "alive": len(self.alive), "lapsed": sorted(self.lapsed),
                "generation": f"{self.incarnation}.{self.epoch}"}
