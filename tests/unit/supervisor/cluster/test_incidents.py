"""Incident keys on a real Redis: the first node pages, any node closes (also one that did not
page), a late node neither pages again nor closes twice, local services and Redis away alert
from the node itself."""

from __future__ import annotations

import pytest

from supervisor.cluster.incidents import RedisIncidents

pytestmark = pytest.mark.timeout(30)


def _nodes(url: str, *names: str) -> list[RedisIncidents]:
    return [RedisIncidents(url, n, shared=lambda s: s == "web", tombstone_s=2) for n in names]


async def test_one_firing_and_one_recovered_whoever_closes(redis_server):
    a, b, c = _nodes(redis_server.url, "a", "b", "c")
    try:
        assert await a.opening("web") == "", "the first node pages"
        assert await b.opening("web") == "a" and await c.opening("web") == "a"
        # node a died; b sees the recovery first and closes the incident a opened
        assert await b.closing("web", fired=True, paged_here=False) == "recovered"
        assert await c.closing("web", fired=True, paged_here=False) == ""
        assert await c.opening("web") == "b", "a late node does not page again"
    finally:
        for n in (a, b, c):
            await n.close()


async def test_nobody_paged_one_self_healed_and_the_tombstone_expires(redis_server):
    import asyncio

    a, b = _nodes(redis_server.url, "a", "b")
    try:
        assert await a.closing("web", fired=False, paged_here=True) == "self_healed"
        assert await b.closing("web", fired=False, paged_here=True) == ""
        await asyncio.sleep(2.5)  # the tombstone lives tombstone_s
        assert await b.opening("web") == "", "a new outage pages again"
    finally:
        await a.close()
        await b.close()


async def test_local_services_and_redis_away_alert_from_this_node(redis_server):
    a, b = _nodes(redis_server.url, "a", "b")
    try:
        assert await a.opening("disk") == "" and await b.opening("disk") == "", \
            "a local service is each node's own"
        assert await b.closing("disk", fired=True, paged_here=True) == "recovered"
        redis_server.kill()
        assert await a.opening("web") == "", "a duplicate beats silence"
        assert await a.closing("web", fired=True, paged_here=True) == "recovered"
        assert await a.closing("web", fired=False, paged_here=True) == "self_healed"
    finally:
        await a.close()
        await b.close()
