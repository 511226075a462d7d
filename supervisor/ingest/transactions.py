"""Transactions and their spans (Sentry performance data), kept in memory: the slowest
transactions per service, database spans over a threshold as slow queries, and every
transaction by trace id for GET /api/monitoring/traces/{id}.

Bounded: the last PER_SERVICE transactions of each service and the last SLOW_QUERIES slow
queries; nothing here reaches the store (an error does, a transaction is only a timing).
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supervisor.observability.performance import p95

PER_SERVICE = 500
SLOW_QUERIES = 200
TRACES = 5000
DB_OPS = ("db", "cache.get", "cache.put", "redis")


@dataclass(slots=True)
class Transaction:
    service: str
    name: str
    op: str
    duration_ms: float
    status: str
    trace_id: str | None
    at: float  # its start, epoch seconds
    slow_spans: list[dict[str, Any]]

    def to_api(self) -> dict[str, Any]:
        return {"service": self.service, "name": self.name, "op": self.op,
                "durationMs": round(self.duration_ms, 1), "status": self.status,
                "traceId": self.trace_id, "timestamp": round(self.at * 1000),
                "slowSpans": self.slow_spans}


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def _duration_ms(item: dict[str, Any]) -> float | None:
    start, end = _seconds(item.get("start_timestamp")), _seconds(item.get("timestamp"))
    return (end - start) * 1000 if start is not None and end is not None and end >= start \
        else None


def parse_transaction(event: dict[str, Any], service: str,
                      slow_ms: float) -> Transaction | None:
    """A scrubbed transaction event; None when it has no usable timing."""
    duration = _duration_ms(event)
    if duration is None:
        return None
    raw_contexts = event.get("contexts")
    contexts: dict[str, Any] = raw_contexts if isinstance(raw_contexts, dict) else {}
    raw_trace = contexts.get("trace")
    trace: dict[str, Any] = raw_trace if isinstance(raw_trace, dict) else {}
    slow: list[dict[str, Any]] = []
    for span in event.get("spans") or []:
        if not isinstance(span, dict):
            continue
        ms = _duration_ms(span)
        op = str(span.get("op") or "")
        if ms is not None and ms >= slow_ms and op.startswith(DB_OPS):
            slow.append({"op": op, "description": str(span.get("description") or "")[:1000],
                         "durationMs": round(ms, 1)})
    slow.sort(key=lambda s: float(s["durationMs"]), reverse=True)
    return Transaction(service, str(event.get("transaction") or "?")[:300],
                       str(trace.get("op") or ""), duration, str(trace.get("status") or ""),
                       str(trace["trace_id"])[:64] if trace.get("trace_id") else None,
                       _seconds(event.get("start_timestamp")) or 0.0, slow[:20])


class Transactions:
    def __init__(self, slow_query_ms: float = 50.0) -> None:
        self.slow_query_ms = slow_query_ms
        self.by_service: dict[str, deque[Transaction]] = {}
        self.slow_queries: deque[dict[str, Any]] = deque(maxlen=SLOW_QUERIES)
        self.by_trace: OrderedDict[str, list[Transaction]] = OrderedDict()
        self.total = 0

    def add(self, t: Transaction) -> None:
        self.total += 1
        self.by_service.setdefault(t.service, deque(maxlen=PER_SERVICE)).append(t)
        for span in t.slow_spans:
            self.slow_queries.append({**span, "service": t.service, "transaction": t.name,
                                      "traceId": t.trace_id, "timestamp": round(t.at * 1000)})
        if t.trace_id:
            self.by_trace.setdefault(t.trace_id, []).append(t)
            self.by_trace.move_to_end(t.trace_id)
            while len(self.by_trace) > TRACES:
                self.by_trace.popitem(last=False)

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        return [t.to_api() for t in self.by_trace.get(trace_id, [])]

    def to_dict(self, slowest: int = 10) -> dict[str, Any]:
        """For GET /api/monitoring/performance → transactions."""
        services = {}
        for name, ts in sorted(self.by_service.items()):
            durations = [t.duration_ms for t in ts]
            services[name] = {
                "count": len(durations),
                "avgMs": round(sum(durations) / len(durations), 1),
                "p95Ms": round(p95(durations) or 0.0, 1),
                "slowest": [t.to_api() for t in heapq.nlargest(slowest, ts,
                                                               key=lambda t: t.duration_ms)]}
        queries = heapq.nlargest(20, self.slow_queries, key=lambda q: q["durationMs"])
        return {"total": self.total, "slowQueryMs": self.slow_query_ms,
                "services": services, "slowQueries": queries}
