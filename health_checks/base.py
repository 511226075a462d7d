"""The shape every health check shares: a config model, a result, and `async run()`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from supervisor.clients.docker import DockerClient
from supervisor.clients.http import HttpClient
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.error_rates import ErrorRates
from supervisor.push.board import HeartbeatBoard

__all__ = ["CheckConfig", "CheckEnv", "CheckKind", "CheckResult", "HealthCheck", "compile_regex",
           "elapsed_ms"]


@dataclass
class CheckEnv:
    """What the daemon shares with its checks: one HTTP client, one heartbeat board, the
    counts of the errors services reported and one Docker client, per daemon (never
    process-wide). A check made without one gets its own."""

    http: HttpClient = field(default_factory=HttpClient)
    heartbeats: HeartbeatBoard = field(default_factory=HeartbeatBoard)
    errors: ErrorRates = field(default_factory=ErrorRates)  # reported errors, for `errors`
    # The Docker Engine API (container checks); connects on first use only.
    docker: DockerClient = field(default_factory=DockerClient)

    async def close(self) -> None:
        await self.http.close()
        await self.docker.close()


class CheckConfig(BaseModel):
    """Fields every check accepts. Subclasses add `type: Literal[...]` and their own fields."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True,
                              strict=True)

    name: str | None = Field(default=None, description="Name of this check within its service.")
    timeout: float = Field(
        default=5000, gt=0, le=3_600_000,
        description="Milliseconds before the check counts as stalled."
    )
    degraded_after: float | None = Field(
        default=None,
        gt=0,
        le=3_600_000,
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
    # False for checks that wait for what the service sends (heartbeats, reported errors):
    # their passing says nothing about whether the service's process runs (see autostart).
    sees_the_service: ClassVar[bool] = True

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        self.config = config
        self.service = service
        self.name = config.name or self.type_name
        self._own_env = env is None
        self.env = env if env is not None else CheckEnv()
        # Set by the scheduler: a check that sees trouble between its runs (a kept connection
        # closing) calls it to be run at once instead of at its next turn.
        self.on_trouble: Callable[[str], None] | None = None

    async def run(self) -> CheckResult:  # pragma: no cover - interface
        raise NotImplementedError

    def notify_trouble(self, why: str) -> None:
        if self.on_trouble is not None:
            self.on_trouble(why)

    async def close(self) -> None:
        """Release connections a check keeps between runs (subclasses call this too)."""
        if self._own_env:
            await self.env.close()

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
