"""Memory check: the host's memory usage against a threshold."""

from __future__ import annotations

import time
from typing import ClassVar, Literal

import psutil
from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck


class MemoryCheckConfig(CheckConfig):
    type: Literal["memory"] = "memory"
    max_usage_percent: float = Field(default=90, gt=0, le=100, alias="maxUsagePercent")
    warn_usage_percent: float | None = Field(default=None, gt=0, le=100,
                                             alias="warnUsagePercent")


@registry.register("memory")
class MemoryCheck(HealthCheck):
    type_name: ClassVar[str] = "memory"
    config_model: ClassVar[type[CheckConfig]] = MemoryCheckConfig
    config: MemoryCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        mem = psutil.virtual_memory()  # reads /proc/meminfo: microseconds, fine on the loop
        latency = (time.perf_counter() - started) * 1000.0
        details = {"usedPercent": mem.percent, "availableBytes": mem.available}
        if mem.percent >= cfg.max_usage_percent:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"memory {mem.percent:.1f}% used "
                               f"(limit {cfg.max_usage_percent:.0f}%)", resource="memory",
                               **details)
        if cfg.warn_usage_percent is not None and mem.percent >= cfg.warn_usage_percent:
            return self.result(CheckKind.DEGRADED, latency, f"memory {mem.percent:.1f}% used",
                               **details)
        return self.result(CheckKind.HEALTHY, latency, **details)
