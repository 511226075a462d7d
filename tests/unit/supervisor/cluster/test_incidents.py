"""Incident keys on a real Redis: the first node pages, any node closes (also one that did not
page), a late node neither pages again nor closes twice, local services and Redis away alert
from the node itself."""

from __future__ import annotations

import time

import pytest

from supervisor.cluster.incidents import RedisIncidents

pytestmark = pytest.mark.timeout(30)


def _nodes(url: str, *names: str) -> list[RedisIncidents]:
    return [RedisIncidents(url, n, shared=lambda s: s == "web", tombstone_s=2) for n in names]


async def test_one_firing_and_one_recovered_whoever_closes(redis_server):
    a, b, c = _nodes(redis_server.url, "a", "b", "c")
    began = time.time() - 5  # when the nodes saw the outage begin
    try:
        assert await a.opening("web", began) == "", "the first node pages"
        assert await b.opening("web", began) == "a" and await c.opening("web", began) == "a"
        # node a died; b sees the recovery first and closes the incident a opened
        assert await b.closing("web", fired=True, paged_here=False) == "recovered"
        assert await c.closing("web", fired=True, paged_here=False) == ""
        assert await c.opening("web", began) == "b", "a late node does not page again"
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
        assert await b.opening("web", time.time() - 10) == "", "nothing left: b pages"
    finally:
        await a.close()
        await b.close()


async def test_local_services_and_redis_away_alert_from_this_node(redis_server):
    a, b = _nodes(redis_server.url, "a", "b")
    try:
        now = time.time()
        assert await a.opening("disk", now) == "" and await b.opening("disk", now) == "", \
            "a local service is each node's own"
        assert await b.closing("disk", fired=True, paged_here=True) == "recovered"
        redis_server.kill()
        assert await a.opening("web", now) == "", "a duplicate beats silence"
        assert await a.closing("web", fired=True, paged_here=True) == "recovered"
        assert await a.closing("web", fired=False, paged_here=True) == "self_healed"
    finally:
        await a.close()
        await b.close()


async def test_an_outage_that_begins_after_the_last_one_ended_pages_at_once(redis_server):
    """Before, the tombstone of the last outage silenced a new one for its whole life, and a
    service that failed again right after a recovery was never paged about."""
    a, b = _nodes(redis_server.url, "a", "b")
    try:
        first = time.time() - 5
        assert await a.opening("web", first) == ""
        assert await a.closing("web", fired=True, paged_here=True) == "recovered"
        assert await b.opening("web", first) == "a", "the same outage, seen late: no page"
        again = time.time() + 0.01  # b sees a new outage begin after the recovery
        assert await b.opening("web", again) == "", "a new outage: b pages"
        assert await a.opening("web", again) == "b", "and only b"
        assert await a.closing("web", fired=True, paged_here=False) == "recovered"
    finally:
        await a.close()
        await b.close()
