"""Which node sends an incident's messages. Standalone, this node sends all of them; in a
cluster (supervisor/cluster/incidents.py) the nodes that watch a shared service agree through
Redis, so that one outage pages once and is closed once, whichever node saw it first.

The daemon's own outages (the cluster's Redis or the shared store unreachable) cannot agree
through Redis, which may be what is down: with a shared store they agree through PostgreSQL
(store/shared/outage_pages.py), `OutageLeader`."""

from __future__ import annotations

from typing import Protocol


class IncidentLeader(Protocol):
    async def opening(self, service: str, since: float) -> str:
        """"" when this node sends the incident's "firing"; otherwise the node that did.
        `since`: when this node saw the outage begin (wall clock), which tells a new outage
        from one another node has already seen end."""

    async def closing(self, service: str, fired: bool, paged_here: bool) -> str:
        """The message this node sends when the incident ends: "recovered", "self_healed"
        or "" (another node sends it, or already did). `fired`: somebody was paged (here, or
        by another node: `paged_here` False)."""


class LocalLeader:
    async def opening(self, service: str, since: float) -> str:
        return ""

    async def closing(self, service: str, fired: bool, paged_here: bool) -> str:
        return "recovered" if fired else "self_healed"


class OutageLeader(Protocol):
    async def opening(self, what: str, since: float) -> str:
        """"" when this node pages about its outage of `what` (begun at `since`, wall
        clock); otherwise the node that paged about the same outage."""

    async def closing(self, what: str) -> bool:
        """Whether this node sends the outage's "recovered" (the first to see it end)."""


class LocalOutageLeader:
    async def opening(self, what: str, since: float) -> str:
        return ""

    async def closing(self, what: str) -> bool:
        return True
