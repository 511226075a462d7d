"""Per-service ingest budgets (token buckets) and the sampling of stored events per group.

Over its budget a service is answered 429 with Retry-After, which the SDKs obey (they stop
sending for that long); the events refused are the SDK's to drop, so nothing accepted is
ever lost. Within a group, the first events are stored in full and then one every
`sample_every_s`: the group's counts stay exact either way.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Budgets:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._per_service: dict[str, tuple[float, int]] = {}
        self._buckets: dict[str, _Bucket] = {}

    def configure(self, service: str, rate: float | None, burst: int | None) -> None:
        self._per_service[service] = (rate or self.rate, burst or self.burst)

    def take(self, service: str, n: int, now: float | None = None) -> float:
        """Take `n` events from the budget: 0.0 when granted, else seconds to wait."""
        if n <= 0:
            return 0.0
        rate, burst = self._per_service.get(service, (self.rate, self.burst))
        now = time.monotonic() if now is None else now
        b = self._buckets.get(service)
        if b is None:
            b = self._buckets[service] = _Bucket(float(burst), now)
        b.tokens = min(float(burst), b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens >= n:
            b.tokens -= n
            return 0.0
        return max(1.0, math.ceil((min(n, burst) - b.tokens) / rate))


class Sampler:
    """Which events of a group are stored in full; the rest only count."""

    def __init__(self, first: int = 20, every_s: float = 10.0, max_groups: int = 50_000) -> None:
        self.first = first
        self.every_s = every_s
        self.max_groups = max_groups
        self._groups: OrderedDict[str, list[float]] = OrderedDict()  # fp -> [stored, last at]

    def keep(self, fingerprint: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        g = self._groups.get(fingerprint)
        if g is None:
            self._groups[fingerprint] = [1, now]
            while len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
            return True
        self._groups.move_to_end(fingerprint)
        if g[0] < self.first or now - g[1] >= self.every_s:
            g[0] += 1
            g[1] = now
            return True
        return False
