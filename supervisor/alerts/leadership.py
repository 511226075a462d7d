"""Which node sends an incident's messages. Standalone, this node sends all of them; in a
cluster (supervisor/cluster/incidents.py) the nodes that watch a shared service agree through
Redis, so that one outage pages once and is closed once, whichever node saw it first."""

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
