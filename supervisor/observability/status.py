"""The daemon's own status (GET /api/monitoring/status), assembled from contributors.

Each part of the daemon registers a named contributor, a function returning a JSON-able dict
(or an awaitable of one); the status body is `{name: contribution, ...}`. A part added later
(the alert outbox, the MQTT link) registers itself and touches nothing here:

    daemon.status.register("alerts", lambda: {"outboxDepth": ..., "lastDeliveryError": ...})
"""

from __future__ import annotations

import gc
import inspect
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import psutil
from loguru import logger

Contribution = dict[str, Any]
Contributor = Callable[[], Contribution | Awaitable[Contribution]]


class StatusBoard:
    def __init__(self) -> None:
        self.contributors: dict[str, Contributor] = {}

    def register(self, name: str, fn: Contributor) -> None:
        self.contributors[name] = fn

    async def collect(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, fn in list(self.contributors.items()):
            try:
                value = fn()
                if inspect.isawaitable(value):
                    value = await value
                out[name] = value
            except Exception as exc:  # one broken part must not hide the others
                logger.opt(exception=exc).warning("status contributor {} failed", name)
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return out


class RequestStats:
    """API request counts by method and status class, and their mean duration."""

    def __init__(self) -> None:
        self.total = 0
        self.by_status: Counter[str] = Counter()
        self.by_method: Counter[str] = Counter()
        self.in_flight = 0
        self.total_ms = 0.0

    def record(self, method: str, status: int, ms: float) -> None:
        self.total += 1
        self.by_status[f"{status // 100}xx"] += 1
        self.by_method[method] += 1
        self.total_ms += ms

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "inFlight": self.in_flight,
                "byStatus": dict(self.by_status), "byMethod": dict(self.by_method),
                "meanMs": round(self.total_ms / self.total, 2) if self.total else None}


_PROC = psutil.Process()


def process_status(started_at: float) -> dict[str, Any]:
    """Uptime, memory and handles of this process (psutil reads /proc: cheap, but not free,
    so the caller runs it off the loop)."""
    with _PROC.oneshot():
        mem = _PROC.memory_info()
        cpu = _PROC.cpu_times()
        try:
            conns = _PROC.net_connections(kind="inet")
        except (psutil.AccessDenied, AttributeError):
            conns = []
        fds = _PROC.num_fds() if hasattr(_PROC, "num_fds") else None
        threads = _PROC.num_threads()
    return {
        "pid": os.getpid(),
        "uptimeS": round(time.time() - started_at, 1),
        "memory": {"rssBytes": mem.rss, "vmsBytes": mem.vms,
                   "sharedBytes": getattr(mem, "shared", None),
                   # heap-like figures: what the Python allocator holds, and gc's view
                   "pythonAllocatedBlocks": sys.getallocatedblocks(),
                   "gcGenerations": list(gc.get_count())},
        "cpuSeconds": round(cpu.user + cpu.system, 2),
        "openConnections": len(conns),
        "openConnectionsEstablished": sum(1 for c in conns if c.status == "ESTABLISHED"),
        "openFiles": fds,
        "threads": threads,
    }
