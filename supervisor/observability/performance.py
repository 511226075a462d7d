"""How long checks and recoveries take: slowest ones, averages and p95 by type and strategy.

Check timings are kept in memory (bounded: the last N per check type and per service), fed by
the scheduler for every result; recovery timings come from the stored recoveries.
"""

from __future__ import annotations

import heapq
import time
from collections import deque
from typing import Any

from supervisor.core.check_result import CheckResult

PER_TYPE = 2000
PER_SERVICE = 20


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def _stats(values: list[float]) -> dict[str, Any]:
    return {"count": len(values),
            "avgMs": round(sum(values) / len(values), 2) if values else None,
            "p95Ms": round(v, 2) if (v := p95(values)) is not None else None,
            "maxMs": round(max(values), 2) if values else None}


class CheckStats:
    def __init__(self) -> None:
        self.by_type: dict[str, deque[float]] = {}
        self.by_service: dict[str, deque[dict[str, Any]]] = {}
        self.recent: deque[tuple[float, str, str, str, float, str]] = deque(maxlen=PER_TYPE)
        self.total = 0

    def on_check(self, service: str, result: CheckResult) -> None:
        self.total += 1
        kind = result.check_type or "unknown"
        self.by_type.setdefault(kind, deque(maxlen=PER_TYPE)).append(result.latency_ms)
        self.by_service.setdefault(service, deque(maxlen=PER_SERVICE)).append(
            {**result.to_dict(), "at": round(result.at * 1000)})
        self.recent.append((result.latency_ms, service, result.check, kind, result.at,
                            str(result.kind)))

    def last_results(self, service: str) -> list[dict[str, Any]]:
        return list(self.by_service.get(service, ()))[::-1]

    def to_dict(self, slowest: int = 10) -> dict[str, Any]:
        top = heapq.nlargest(slowest, self.recent, key=lambda r: r[0])
        return {
            "total": self.total,
            "byType": {k: _stats(list(v)) for k, v in sorted(self.by_type.items())},
            "slowest": [{"service": s, "check": c, "type": t, "durationMs": round(ms, 2),
                         "kind": kind, "at": round(at * 1000)}
                        for ms, s, c, t, at, kind in top],
        }


def recovery_performance(rows: list[dict[str, Any]], slowest: int = 10) -> dict[str, Any]:
    """From stored recoveries: per strategy the attempt durations, and the slowest runs."""
    by_strategy: dict[str, list[float]] = {}
    runs = []
    for row in rows:
        for a in row.get("attempts") or []:
            if isinstance(a, dict) and isinstance(a.get("durationMs"), int | float):
                by_strategy.setdefault(str(a.get("strategy", "?")), []).append(
                    float(a["durationMs"]))
        if row.get("duration_ms") is not None:
            runs.append(row)
    runs.sort(key=lambda r: r["duration_ms"], reverse=True)
    return {
        "byStrategy": {k: _stats(v) for k, v in sorted(by_strategy.items())},
        "runs": _stats([float(r["duration_ms"]) for r in runs]),
        "slowest": [{"id": r["id"], "service": r["service"], "action": r["action"],
                     "status": r["status"], "durationMs": r["duration_ms"],
                     "at": round(r["created_at"] * 1000)} for r in runs[:slowest]],
        "window": {"until": round(time.time() * 1000)},
    }
