"""Membership against a real redis-server: two nodes in one process (no daemon), driven round
by round so that nothing depends on timing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from supervisor.cluster import keys
from supervisor.cluster.membership import Local, Membership
from supervisor.cluster.record import NodeRecord
from supervisor.core.events import EventBus
from tests.support.servers import RedisServer


class Reporter:
    def __init__(self) -> None:
        self.lapsed: list[tuple[str, dict[str, Any]]] = []
        self.back: list[str] = []
        self.seen: list[tuple[str, str]] = []

    async def lapsed_(self, node: str, last: NodeRecord | None, marker: dict[str, Any]) -> None:
        self.lapsed.append((node, marker))

    async def back_(self, node: str, record: NodeRecord, marker: dict[str, Any]) -> None:
        self.back.append(node)


class Node:
    def __init__(self, url: str, name: str, reporter: Reporter) -> None:
        self.progress = True
        self.outages: list[str] = []
        self.outages_over = 0
        self.bus = EventBus()
        self.m = Membership(url, name, 1.0, self.bus, version="t", started_at=0.0,
                            local=lambda: Local("http://x", {"db": "healthy"}, []),
                            progressing=lambda: self.progress, reporter=self,
                            outage=self)
        self.reporter = reporter

    def failed(self, reason: str) -> None:
        self.outages.append(reason)

    async def ok(self) -> None:
        self.outages_over += 1

    async def lapsed(self, node: str, last: NodeRecord | None, marker: dict[str, Any]) -> None:
        await self.reporter.lapsed_(node, last, marker)

    async def back(self, node: str, record: NodeRecord, marker: dict[str, Any]) -> None:
        await self.reporter.back_(node, record, marker)

    async def seen_back(self, node: str) -> None:
        self.reporter.seen.append((self.m.name, node))

    def events(self, type: str) -> list[str]:
        return [e.data["node"] for e in self.bus.recent if e.type == type]


async def past_ttl(*nodes: Node) -> None:
    """Let the TTL (1 s) run out while the given nodes keep renewing."""
    for _ in range(6):
        await asyncio.sleep(0.25)
        for n in nodes:
            await n.m.round()


@pytest.mark.timeout(30)
async def test_a_node_that_stops_progressing_lapses_once_and_comes_back_once(redis_server):
    reporter = Reporter()
    a, b, c = (Node(redis_server.url, n, reporter) for n in "abc")
    try:
        for n in (a, b, c):
            await n.m.round()
        await past_ttl(a, b, c)  # the grace after joining
        assert a.events("node_joined")[:1] == ["a"] and "b" in a.events("node_joined")
        b.progress = False  # the scheduler is stalled: b stops vouching for itself
        await past_ttl(a, c, b)
        assert [n for n, _ in reporter.lapsed] == ["b"], "one node reports it, once"
        assert "b" in a.events("node_lapsed") and "b" in c.events("node_lapsed")
        b.progress = True
        await b.m.round()
        assert b.events("node_rejoined") == ["b"] and b.m.epoch == 1
        await a.m.round()
        await c.m.round()
        assert reporter.back == ["b"], "one recovered"
        assert sorted(reporter.seen) == [("a", "b"), ("c", "b")], "both watchers saw it back"
        assert "b" in a.events("node_rejoined") and "b" in c.events("node_rejoined")
        # a second lapse is a new generation: reported again, once
        b.progress = False
        await past_ttl(a, c, b)
        assert [n for n, _ in reporter.lapsed] == ["b", "b"]
        assert reporter.lapsed[0][1]["generation"] != reporter.lapsed[1][1]["generation"]
    finally:
        for n in (a, b, c):
            await n.m.stop()


@pytest.mark.timeout(30)
async def test_a_clean_stop_leaves_no_member_and_no_lapse(redis_server):
    reporter = Reporter()
    a, b = Node(redis_server.url, "a", reporter), Node(redis_server.url, "b", reporter)
    try:
        await a.m.round()
        await b.m.round()
        await a.m.round()  # a sees b
        await b.m.stop()
        await past_ttl(a)
        assert reporter.lapsed == [] and "b" in a.events("node_left")
        assert await a.m.redis.smembers(keys.nodes_set()) == {"a"}
    finally:
        await a.m.stop()


@pytest.mark.timeout(30)
async def test_redis_gone_is_one_outage_and_back_is_a_rejoin(tmp_path):
    server = RedisServer(tmp_path / "redis").start()
    a = Node(server.url, "a", Reporter())
    try:
        await a.m.round()
        server.kill()
        await a.m.round()
        await a.m.round()
        assert len(a.outages) == 1 and not a.m.reachable
        server.start()
        await a.m.round()
        assert a.m.reachable and a.events("cluster_reconnected") == ["a"]
        assert a.outages_over == 1
        assert await a.m.redis.exists(keys.node_key("a")) == 1
    finally:
        await a.m.stop()
        server.kill()
