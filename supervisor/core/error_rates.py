"""How many errors each service reported lately, in memory, for the `errors` health check.

The daemon owns one ErrorRates, the ingest pipeline records every accepted error into it
(sampled-out ones too: the counts are exact), and the check reads a window from the instance
the daemon hands it. Counts live in one-second buckets per service, so a storm of thousands
of errors a second costs a bucket, not a list entry per error.

After a service is restarted its earlier errors no longer count (`cut`): the check judges
the new process, not the one that was replaced.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

HORIZON_S = 3600  # the longest window a check may ask for
MAX_GROUPS_PER_BUCKET = 50


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0


@dataclass(slots=True)
class _Bucket:
    second: int
    first: float  # when its first error came (a restart after it starts a new bucket)
    total: int = 0
    unhandled: int = 0
    # fingerprint -> [count, label, top frame, category]
    groups: dict[str, list[object]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErrorWindow:
    """What a service reported within a window."""

    total: int
    unhandled: int
    window_s: float
    top_label: str = ""  # the most frequent group: its exception and message
    top_frame: str = ""
    top_count: int = 0
    top_fingerprint: str = ""
    top_category: str = ""
    groups: int = 0


class ErrorRates:
    def __init__(self, horizon_s: int = HORIZON_S) -> None:
        self.horizon_s = horizon_s
        self._buckets: dict[str, deque[_Bucket]] = {}
        self._cut: dict[str, float] = {}

    def record(self, service: str, fingerprint: str, *, unhandled: bool, label: str,
               frame: str, category: str, at: float | None = None) -> None:
        now = time.monotonic() if at is None else at
        sec = int(now)
        buckets = self._buckets.setdefault(service, deque())
        cut = self._cut.get(service, float("-inf"))
        if not buckets or buckets[-1].second != sec or buckets[-1].first < cut:
            buckets.append(_Bucket(sec, now))
            while buckets and buckets[0].second < sec - self.horizon_s:
                buckets.popleft()
        b = buckets[-1]
        b.total += 1
        b.unhandled += unhandled
        g = b.groups.get(fingerprint)
        if g is not None:
            g[0] = _count(g[0]) + 1
        elif len(b.groups) < MAX_GROUPS_PER_BUCKET:
            b.groups[fingerprint] = [1, label, frame, category]

    def cut(self, service: str, at: float | None = None) -> None:
        """Errors before `at` (monotonic; default now) no longer count for the service."""
        self._cut[service] = time.monotonic() if at is None else at

    def count(self, service: str, window_s: float, now: float | None = None) -> int:
        """Just the number within the window (cheap enough to ask on every error)."""
        now = time.monotonic() if now is None else now
        begin, cut = now - window_s, self._cut.get(service, float("-inf"))
        total = 0
        for b in reversed(self._buckets.get(service, ())):
            if b.second + 1 <= begin or b.first < cut:
                break
            total += b.total
        return total

    def window(self, service: str, window_s: float, now: float | None = None) -> ErrorWindow:
        now = time.monotonic() if now is None else now
        begin, cut = now - window_s, self._cut.get(service, float("-inf"))
        total = unhandled = 0
        groups: dict[str, list[object]] = {}
        for b in reversed(self._buckets.get(service, ())):
            if b.second + 1 <= begin or b.first < cut:
                break  # older than the window, or begun before the restart
            total += b.total
            unhandled += b.unhandled
            for fp, (n, label, frame, category) in b.groups.items():
                g = groups.setdefault(fp, [0, label, frame, category])
                g[0] = _count(g[0]) + _count(n)
        if not groups:
            return ErrorWindow(total, unhandled, window_s)
        fp, (n, label, frame, category) = max(groups.items(), key=lambda kv: _count(kv[1][0]))
        return ErrorWindow(total, unhandled, window_s, str(label), str(frame), _count(n),
                           fp, str(category), len(groups))

    def forget(self, service: str) -> None:
        self._buckets.pop(service, None)
        self._cut.pop(service, None)
