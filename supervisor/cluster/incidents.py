"""One alert per incident across the nodes of a cluster.

Every node that watches a shared service opens its own local incident when it sees it fail;
keys.incident_key(service, fingerprint) decides who tells people:
- "firing": SET NX of `open|<node>` with a long TTL (INCIDENT_TTL_S): the first node wins and
  sends; the others remember who did and stay quiet (no reminders either).
- the end: whichever node first sees the service up again replaces the key with a tombstone
  `closed|<node>|<when>` (one Lua script) and sends "recovered", also when another node sent
  "firing" and has died since. The tombstone lives SOULFRA_CLUSTER_TTL_S, so a node that sees
  the same outage late neither pages again nor sends a second "recovered". An incident nobody
  was paged about gets one "self_healed" the same way.
- a new outage within that time is not the old one: a node whose outage began after the
  tombstone's time replaces it with its own `open|` and pages (before, the tombstone silenced
  it, and an outage right after a recovery was never paged at all). Node clocks are compared:
  hosts of a cluster are expected to keep NTP time.

The fingerprint is one per service ("down"): nodes that see the same outage may classify it
differently (refused on one, a timeout on another), and one outage is one incident.
Local services are not shared: each node alerts on its own (its disk is not the others').
Redis unreachable: the node sends as it would standalone and says so in its log; a duplicate
beats silence. The sender's outbox keeps its delivery guarantees either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from supervisor.alerts.service import AlertService
from supervisor.clients.redis import redis_client, redis_errors
from supervisor.cluster import keys
from supervisor.config.settings import Settings
from supervisor.core.redaction import redact_text

FINGERPRINT = "down"
INCIDENT_TTL_S = 7 * 24 * 3600  # an incident open longer than this may page again
# Open: no key, or a tombstone older than this node's outage (ARGV[3]): this node pages.
_OPEN = ("local v = redis.call('get', KEYS[1]) "
         "if v and string.sub(v, 1, 7) == 'closed|' then "
         "  local at = tonumber(string.match(v, '|([0-9.]+)$')) "
         "  if at and at < tonumber(ARGV[3]) then v = false end "
         "end "
         "if v then return v end "
         "redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) "
         "return ''")
# Replace an open key (or none) by a tombstone; an existing tombstone stays.
_CLOSE = ("local v = redis.call('get', KEYS[1]) "
          "if v and string.sub(v, 1, 7) == 'closed|' then return 'done' end "
          "redis.call('set', KEYS[1], 'closed|' .. ARGV[1] .. '|' .. ARGV[3], 'EX', ARGV[2]) "
          "if v then return 'open' end "
          "return 'absent'")


class RedisIncidents:
    def __init__(self, url: str, node: str, shared: Callable[[str], bool],
                 tombstone_s: float = 15, timeout_s: float = 1.0) -> None:
        self.url = url
        self.node = node
        self.shared = shared
        self.tombstone_s = max(1, round(tombstone_s))
        self._client = redis_client(url, timeout_s=timeout_s,
                                    client_name=f"soulfra-incidents-{node}")

    def _errors(self) -> tuple[type[Exception], ...]:
        return (redis_errors()[0], OSError)

    def _local(self, service: str, what: str, exc: Exception) -> None:
        logger.warning("alerts: {}: Redis {} unreachable ({}); sending {} from this node "
                       "(another node may send it too)", service, redact_text(self.url), exc,
                       what)

    async def opening(self, service: str, since: float) -> str:
        if not self.shared(service):
            return ""
        key = keys.incident_key(service, FINGERPRINT)
        try:
            value = await self._client.eval(_OPEN, 1, key, f"open|{self.node}", INCIDENT_TTL_S,
                                            repr(since))
        except self._errors() as exc:
            self._local(service, '"firing"', exc)
            return ""
        if not value:
            return ""
        state, _, rest = str(value).partition("|")
        node = rest.rpartition("|")[0] if state == "closed" and rest.count("|") else rest
        if not node:
            return ""
        logger.info("alerts: {}: node {} {} this incident; not paging again", service, node,
                    "opened" if state == "open" else "already closed")
        return node

    async def closing(self, service: str, fired: bool, paged_here: bool) -> str:
        local = "recovered" if fired else "self_healed"
        if not self.shared(service):
            return local
        try:
            verdict = await self._client.eval(_CLOSE, 1, keys.incident_key(service, FINGERPRINT),
                                              self.node, self.tombstone_s, repr(time.time()))
        except self._errors() as exc:
            self._local(service, f'"{local}"', exc)
            return local
        if verdict == "open":  # somebody paged: this node closes it, whoever opened it
            return "recovered"
        if verdict == "absent":  # nobody paged (or the key expired under our own page)
            return "recovered" if fired and paged_here else "" if fired else "self_healed"
        logger.info("alerts: {}: another node already closed this incident", service)
        return ""

    async def close(self) -> None:
        await self._client.aclose()


def cluster_incidents(alerts: AlertService, settings: Settings,
                      shared: Callable[[str], bool]) -> RedisIncidents | None:
    """In cluster mode, the alerts of shared services go through Redis incident keys."""
    if settings.cluster_redis_url is None:
        return None
    leader = RedisIncidents(settings.cluster_redis_url.get_secret_value(), settings.node_name,
                            shared, tombstone_s=settings.cluster_ttl_s)
    alerts.leader = leader
    return leader
