"""What is worth telling people about reported errors even without an `errors` check: a new
group, a resolved group that came back (regression), and a spike of one service's errors.
Published on the bus (`error_group_new`, `error_group_regressed`, `error_spike`); the
alerter turns them into alerts (supervisor/alerts/error_notices.py).

A group is looked up in the store the first time this daemon sees it and then at most once
a minute, so that a regression after a resolve is noticed without a query per event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from supervisor.core.error_rates import ErrorRates
from supervisor.core.events import EventBus

if TYPE_CHECKING:
    from supervisor.store.database import Store

RECHECK_S = 60.0
SPIKE_WINDOW_S = 60.0
SPIKE_QUIET_S = 600.0  # one spike notice per service within this long
GROUP_NOTICES = 5  # new-group and regression notices per service within GROUP_WINDOW_S
GROUP_WINDOW_S = 600.0


class Notices:
    def __init__(self, store: Store, bus: EventBus, rates: ErrorRates,
                 spike_per_minute: int) -> None:
        self.store = store
        self.bus = bus
        self.rates = rates
        self.spike_per_minute = spike_per_minute
        self._looked: dict[str, float] = {}  # fingerprint -> when it was last looked up
        self._spiked: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sent: dict[str, deque[float]] = {}
        self.held = 0  # notices not sent because a service had GROUP_NOTICES already

    def seen(self, row: dict[str, Any], frame: str) -> None:
        """An accepted error (its row queued for the store, or only counted: id None)."""
        now = time.monotonic()
        fp = row["fingerprint"]
        if row.get("id") and now - self._looked.get(fp, -RECHECK_S) >= RECHECK_S:
            self._looked[fp] = now
            if len(self._looked) > 100_000:
                self._looked.clear()
            task = asyncio.get_running_loop().create_task(self._look_up(dict(row), frame))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._spike(row["service"], now)

    async def _look_up(self, row: dict[str, Any], frame: str) -> None:
        g = await self.store.get_group(row["fingerprint"])
        at = row["created_at"]
        data = {"fingerprint": row["fingerprint"], "message": row["message"], "frame": frame,
                "severity": row["severity"], "category": row["category"],
                "errorType": row["type"],
                "release": row.get("release"), "errorId": row["id"]}
        if g is None or abs(g["first_seen"] - at) < 0.001:
            kind = "error_group_new"
        elif g["status"] == "resolved" or (g["regressed"] and g["regressed_at"] is not None
                                           and g["regressed_at"] >= at - 0.001):
            kind = "error_group_regressed"
        else:
            return
        if self._allowed(row["service"]):
            self.bus.publish(kind, row["service"], None, **data)

    def _allowed(self, service: str) -> bool:
        """A loop of distinct errors must not become a storm of notices."""
        now = time.monotonic()
        sent = self._sent.setdefault(service, deque())
        while sent and now - sent[0] > GROUP_WINDOW_S:
            sent.popleft()
        if len(sent) >= GROUP_NOTICES:
            self.held += 1
            return False
        sent.append(now)
        return True

    def _spike(self, service: str, now: float) -> None:
        if now - self._spiked.get(service, -SPIKE_QUIET_S) < SPIKE_QUIET_S:
            return
        if self.rates.count(service, SPIKE_WINDOW_S, now) < self.spike_per_minute:
            return
        self._spiked[service] = now
        w = self.rates.window(service, SPIKE_WINDOW_S, now)
        self.bus.publish("error_spike", service, None, count=w.total, unhandled=w.unhandled,
                         windowS=SPIKE_WINDOW_S, message=w.top_label, frame=w.top_frame,
                         topCount=w.top_count, category=w.top_category)
