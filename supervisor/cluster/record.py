"""A node's membership record and the judgements made from records alone (no Redis here), so
that the writer, the watchers and the cluster view read the same JSON the same way.

The record is what a node writes under `keys.node_key(name)` (with the TTL) and
`keys.node_last_key(name)` (without): who it is, which generation of it is alive (the
incarnation, new at every start, and the epoch, new at every rejoin after a lapse), and its
services with their current states. Times are epoch milliseconds, like the API's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

UNKNOWN = "unknown"  # a service of a node that is not alive: nobody knows its state


@dataclass
class NodeRecord:
    name: str
    version: str = ""
    started_at: int = 0  # ms
    last_seen: int = 0  # ms
    api_url: str = ""
    services: dict[str, str] = field(default_factory=dict)  # name -> state
    shared: list[str] = field(default_factory=list)  # its services declared "shared": true
    incarnation: str = ""
    epoch: int = 0

    @property
    def generation(self) -> str:
        """Names the lapse guard: one lapse alert per generation, ever."""
        return f"{self.incarnation or 'unknown'}.{self.epoch}"

    def to_json(self) -> str:
        return json.dumps({"name": self.name, "version": self.version,
                           "startedAt": self.started_at, "lastSeen": self.last_seen,
                           "apiUrl": self.api_url, "services": self.services,
                           "shared": self.shared, "incarnation": self.incarnation,
                           "epoch": self.epoch}, separators=(",", ":"))

    @classmethod
    def from_json(cls, name: str, text: str | bytes | None) -> NodeRecord | None:
        """The record stored for `name`, or None when absent or not a record (a key written
        by something else is ignored, never trusted)."""
        if not text:
            return None
        try:
            d = json.loads(text)
        except ValueError:
            return None
        if not isinstance(d, dict):
            return None
        services = d.get("services")
        shared = d.get("shared")
        return cls(name=name, version=_str(d.get("version")),
                   started_at=_int(d.get("startedAt")), last_seen=_int(d.get("lastSeen")),
                   api_url=_str(d.get("apiUrl")),
                   services={str(k): str(v) for k, v in services.items()}
                   if isinstance(services, dict) else {},
                   shared=[str(s) for s in shared] if isinstance(shared, list) else [],
                   incarnation=_str(d.get("incarnation")), epoch=_int(d.get("epoch")))


def text(v: Any) -> str | None:
    """A value as redis-py hands it back (str with decode_responses, else bytes), or None."""
    if isinstance(v, bytes):
        return v.decode(errors="replace")
    return v if isinstance(v, str) else None


def names(values: Any) -> list[str]:
    """The members of a Redis set, sorted."""
    return sorted(t for t in (text(v) for v in values) if t)


def _str(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _int(v: Any) -> int:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0


@dataclass
class Round:
    """One watch round as read from Redis: the members of the set, the live record of each
    (None: its key is gone) and the lapse marker of each (None: not marked down)."""

    members: list[str]
    alive: dict[str, NodeRecord | None]
    down: dict[str, str | None]


@dataclass
class Verdicts:
    joined: list[str] = field(default_factory=list)  # alive now, not alive last round
    left: list[str] = field(default_factory=list)  # gone from the set (a clean stop)
    lapsed: list[str] = field(default_factory=list)  # in the set, key gone, newly noticed
    back: list[str] = field(default_factory=list)  # alive again and still marked down


def judge(me: str, previous_alive: set[str], previous_members: set[str], rnd: Round,
          lapsed_known: set[str], may_judge_lapses: bool) -> Verdicts:
    """What changed since the last round, as this node sees it. `lapsed_known`: the nodes
    this node already reported lapsed (not reported twice); `may_judge_lapses` is False in
    the grace period after this node (re)joined, when the others may be rejoining too."""
    v = Verdicts()
    members = set(rnd.members)
    for name in sorted(members - {me}):
        rec = rnd.alive.get(name)
        if rec is not None:
            if name not in previous_alive:
                v.joined.append(name)
            if rnd.down.get(name) is not None:
                v.back.append(name)
        elif may_judge_lapses and name not in lapsed_known:
            v.lapsed.append(name)
    v.left = sorted(previous_members - members - {me})
    return v
