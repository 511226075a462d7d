"""What a check found: a kind of failure (or health) and the measured latency.

Checks return these, push signals are made of them, and the state tracker reads them: the
one vocabulary of failures shared by health_checks/, push/ and the core.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CheckKind(StrEnum):
    """What a check found. Every failed result names one of these."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"  # answered correctly, but slowly
    REFUSED = "refused"  # nothing listening / process gone
    STALLED = "stalled"  # no answer within the timeout
    UNHEALTHY = "unhealthy"  # answered, but wrong
    CONTRACT_VIOLATION = "contract_violation"
    CONNECTION_LOST = "connection_lost"
    RESOURCE_PRESSURE = "resource_pressure"
    MISSING_HEARTBEAT = "missing_heartbeat"
    NO_PROGRESS = "no_progress"
    PROCESS_EXITED = "process_exited"
    CHECK_ERROR = "check_error"  # the check itself crashed: our bug, not the service's
    # The daemon could not judge (out of fds, its own loop late past the timeout): says
    # nothing about the service, so it never counts toward errorThreshold.
    INCONCLUSIVE = "inconclusive"

    @property
    def is_up(self) -> bool:
        return self in (CheckKind.HEALTHY, CheckKind.DEGRADED)


@dataclass(slots=True)
class CheckResult:
    kind: CheckKind
    latency_ms: float = 0.0
    message: str = ""
    check: str = ""  # the check's name within its service
    check_type: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.kind.is_up

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "type": self.check_type,
            "kind": str(self.kind),
            "ok": self.ok,
            "latencyMs": round(self.latency_ms, 1),
            "message": self.message,
            "details": self.details,
        }
