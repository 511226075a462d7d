"""The overhead budget: the daemon keeps its own CPU share under MONITORING_OVERHEAD_LIMIT.

Every few seconds it reads its process CPU time (all threads: checks, API, store writer) against
the wall clock. Over the limit, it stretches the intervals of the non-critical services by a
common factor, just enough to come back under it (the check work scales with 1 / factor);
critical services keep their configured intervals. It says so: a warning stored among the
daemon's own errors (and published on the bus), GET /api/monitoring/status → `overhead`, the
`soulfra_overhead_*` metrics and a banner on the dashboard. Once the share stays well under the
limit it shrinks the factor again, back to the configured intervals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from supervisor.core.events import EventBus
from supervisor.core.scheduler import Scheduler
from supervisor.core.tasks import cancel_and_wait
from supervisor.core.taxonomy import OVERHEAD_EXCEEDED

SAMPLE_S = 5.0
MAX_STRETCH = 20.0  # beyond this the checks would say too little; the status says so
AIM = 0.9  # stretch to land at this share of the limit, so as not to sit on it
SHRINK_BELOW = 0.7  # shrink the factor only when the share is this far under the limit
SMOOTHING = 0.5  # weight of the newest sample in the running share

Report = Callable[..., Any]  # SelfWatch.report(classification, message, **context)


class OverheadBudget:
    def __init__(self, scheduler: Scheduler, bus: EventBus, limit_percent: float, *,
                 report: Report | None = None, sample_s: float = SAMPLE_S,
                 cpu_time: Callable[[], float] = time.process_time,
                 wall_time: Callable[[], float] = time.monotonic) -> None:
        self.scheduler = scheduler
        self.bus = bus
        self.limit = limit_percent
        self.sample_s = sample_s
        self._report = report
        self._cpu_time, self._wall_time = cpu_time, wall_time
        self._last: tuple[float, float] | None = None
        self.share: float | None = None  # smoothed CPU share, % of one core
        self.since: float | None = None  # unix time the intervals were first stretched
        self.changes = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def stretch(self) -> float:
        return self.scheduler.stretch

    def start(self) -> None:
        self._last = (self._cpu_time(), self._wall_time())
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="overhead")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.sample_s)
            self.sample()

    def sample(self) -> None:
        """Read the CPU used since the last sample and adjust the stretch factor."""
        cpu, wall = self._cpu_time(), self._wall_time()
        if self._last is None:
            self._last = (cpu, wall)
            return
        (cpu0, wall0), self._last = self._last, (cpu, wall)
        if wall <= wall0:
            return
        now = (cpu - cpu0) / (wall - wall0) * 100
        self.share = now if self.share is None else \
            SMOOTHING * now + (1 - SMOOTHING) * self.share
        self._adjust(self.share)

    def _adjust(self, share: float) -> None:
        old = self.scheduler.stretch
        if share > self.limit:
            # the check work is ~ 1/stretch: scale it by share/aim; at most 4x per step
            new = min(MAX_STRETCH, old * min(4.0, share / (self.limit * AIM)))
        elif share < self.limit * SHRINK_BELOW and old > 1.0:
            new = max(1.0, old * max(0.5, share / (self.limit * AIM)))
            if new < 1.05:
                new = 1.0
        else:
            return
        if abs(new - old) < 0.05 * old and new != 1.0:
            return  # not worth a change
        if new == old:
            return
        self.scheduler.stretch = round(new, 2)
        self.changes += 1
        self._say(old, share)

    def _say(self, old: float, share: float) -> None:
        new = self.scheduler.stretch
        stretched, exempt = self._counts()
        data = {"cpuPercent": round(share, 2), "limitPercent": self.limit, "stretch": new,
                "previousStretch": old, "stretchedServices": stretched,
                "criticalServices": exempt}
        if new > 1.0 and old == 1.0:
            self.since = time.time()
            message = (f"monitoring overhead {share:.1f} % of a core is over the limit of "
                       f"{self.limit:g} %: intervals of {stretched} non-critical service(s) "
                       f"stretched x{new:g} ({exempt} critical kept)")
            logger.warning(message)
            if self._report is not None:  # stored among the daemon's own errors
                self._report(OVERHEAD_EXCEEDED, message, **data)
            self.bus.publish("overhead_exceeded", None, None, **data)
        elif new == 1.0:
            logger.info("monitoring overhead {:.1f} % is under the limit of {:g} %: configured "
                        "intervals restored", share, self.limit)
            self.since = None
            self.bus.publish("overhead_restored", None, None, **data)
        else:
            logger.info("monitoring overhead {:.1f} % (limit {:g} %): stretch x{:g} -> x{:g}",
                        share, self.limit, old, new)
            self.bus.publish("overhead_adjusted", None, None, **data)

    def _counts(self) -> tuple[int, int]:
        services = self.scheduler.services.values()
        exempt = sum(1 for rt in services if rt.critical)
        return len(self.scheduler.services) - exempt, exempt

    def to_dict(self) -> dict[str, Any]:
        stretched, exempt = self._counts()
        stretch = self.scheduler.stretch
        return {
            "limitPercent": self.limit,
            "cpuPercent": None if self.share is None else round(self.share, 2),
            "state": "stretched" if stretch > 1.0 else "within",
            "stretch": stretch,
            "stretchedServices": stretched if stretch > 1.0 else 0,
            "criticalServices": exempt,
            "atMaxStretch": stretch >= MAX_STRETCH,
            "since": None if self.since is None else round(self.since * 1000),
            "changes": self.changes,
        }
