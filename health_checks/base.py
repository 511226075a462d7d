"""The shape every health check shares: a config model, a result, and `async run()`."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


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


class CheckConfig(BaseModel):
    """Fields every check accepts. Subclasses add `type: Literal[...]` and their own fields."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str | None = Field(default=None, description="Name of this check within its service.")
    timeout: float = Field(
        default=5000, gt=0, description="Milliseconds before the check counts as stalled."
    )
    degraded_after: float | None = Field(
        default=None,
        gt=0,
        alias="degradedAfter",
        description="Milliseconds of latency above which an answer counts as degraded.",
    )

    @property
    def timeout_s(self) -> float:
        return self.timeout / 1000.0


class HealthCheck:
    """Base class. A check never raises for an expected failure: it returns a CheckResult."""

    type_name: ClassVar[str]
    config_model: ClassVar[type[CheckConfig]]

    def __init__(self, config: CheckConfig, service: str) -> None:
        self.config = config
        self.service = service
        self.name = config.name or self.type_name

    async def run(self) -> CheckResult:  # pragma: no cover - interface
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections a check keeps between runs."""

    def result(self, kind: CheckKind, latency_ms: float = 0.0, message: str = "",
               **details: Any) -> CheckResult:
        """Build a result, turning a slow success into DEGRADED per `degradedAfter`."""
        limit = self.config.degraded_after
        if kind is CheckKind.HEALTHY and limit is not None and latency_ms > limit:
            kind = CheckKind.DEGRADED
            message = message or f"slow: {latency_ms:.0f} ms > {limit:.0f} ms"
        return CheckResult(kind=kind, latency_ms=latency_ms, message=message, check=self.name,
                           check_type=self.type_name, details=details)


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a regex from a check's config; a bad one is a config error naming the pattern."""
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started`, a `time.perf_counter()` reading."""
    return (time.perf_counter() - started) * 1000.0
