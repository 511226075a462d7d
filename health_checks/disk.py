"""Disk check: usage of the filesystem holding a path against a threshold."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

import psutil
from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck


class DiskCheckConfig(CheckConfig):
    type: Literal["disk"] = "disk"
    path: str = "/"
    max_usage_percent: float = Field(default=90, gt=0, le=100, alias="maxUsagePercent")
    warn_usage_percent: float | None = Field(default=None, gt=0, le=100,
                                             alias="warnUsagePercent",
                                             description="Usage that makes the check degraded.")


@registry.register("disk")
class DiskCheck(HealthCheck):
    type_name: ClassVar[str] = "disk"
    config_model: ClassVar[type[CheckConfig]] = DiskCheckConfig
    config: DiskCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        try:
            usage = await asyncio.to_thread(psutil.disk_usage, cfg.path)
        except OSError as exc:
            return self.result(CheckKind.UNHEALTHY, 0.0, f"cannot stat {cfg.path}: {exc}")
        latency = (time.perf_counter() - started) * 1000.0
        details = {"path": cfg.path, "usedPercent": usage.percent, "freeBytes": usage.free}
        if usage.percent >= cfg.max_usage_percent:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"disk {cfg.path} {usage.percent:.1f}% used "
                               f"(limit {cfg.max_usage_percent:.0f}%)", resource="disk", **details)
        if cfg.warn_usage_percent is not None and usage.percent >= cfg.warn_usage_percent:
            return self.result(CheckKind.DEGRADED, latency,
                               f"disk {cfg.path} {usage.percent:.1f}% used", **details)
        return self.result(CheckKind.HEALTHY, latency, **details)
