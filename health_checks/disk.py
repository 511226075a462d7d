"""Disk check: space and inodes of the filesystem holding a path, and a forecast of when it
will be full from the recent trend (so the alert comes while there is still room)."""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from typing import Any, ClassVar, Literal

from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckEnv, CheckKind, CheckResult, HealthCheck

MIN_SAMPLES = 3
MIN_SPAN_SHARE = 0.1  # a forecast needs samples over at least this share of its window


class DiskCheckConfig(CheckConfig):
    type: Literal["disk"] = "disk"
    path: str = "/"
    max_usage_percent: float = Field(default=90, gt=0, le=100, alias="maxUsagePercent")
    warn_usage_percent: float | None = Field(default=None, gt=0, le=100,
                                             alias="warnUsagePercent",
                                             description="Usage that makes the check degraded.")
    max_inodes_percent: float | None = Field(default=95, gt=0, le=100, alias="maxInodesPercent",
                                             description="Inodes in use; null to ignore.")
    min_time_to_full: float | None = Field(
        default=None, gt=0, alias="minTimeToFull",
        description="ms: a forecast of full sooner than this is resource pressure.")
    forecast_window: float = Field(default=3_600_000, gt=0, alias="forecastWindow",
                                   description="ms of recent samples the forecast follows.")


@registry.register("disk")
class DiskCheck(HealthCheck):
    type_name: ClassVar[str] = "disk"
    config_model: ClassVar[type[CheckConfig]] = DiskCheckConfig
    config: DiskCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self.samples: deque[tuple[float, int]] = deque(maxlen=10_000)  # (monotonic, used)

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        try:
            st = await asyncio.to_thread(os.statvfs, cfg.path)
        except OSError as exc:
            return self.result(CheckKind.UNHEALTHY, 0.0, f"cannot stat {cfg.path}: {exc}")
        latency = (time.perf_counter() - started) * 1000.0
        # The same arithmetic as df and psutil.disk_usage: reserved blocks count as used.
        total, free = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        percent = 100.0 * used / (used + free) if used + free else 0.0
        inodes = 100.0 * (st.f_files - st.f_ffree) / st.f_files if st.f_files else 0.0
        details: dict[str, Any] = {"path": cfg.path, "usedPercent": round(percent, 1),
                                   "freeBytes": free, "totalBytes": total,
                                   "inodesUsedPercent": round(inodes, 1)}
        ttf = self._forecast(used, free)
        if ttf is not None:
            details["timeToFullS"] = round(ttf)
        if percent >= cfg.max_usage_percent:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"disk {cfg.path} {percent:.1f}% used "
                               f"(limit {cfg.max_usage_percent:.0f}%)", resource="disk", **details)
        if cfg.max_inodes_percent is not None and inodes >= cfg.max_inodes_percent:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"disk {cfg.path}: {inodes:.1f}% of inodes used "
                               f"(limit {cfg.max_inodes_percent:.0f}%)", resource="disk",
                               **details)
        if ttf is not None and cfg.min_time_to_full is not None \
                and ttf * 1000 < cfg.min_time_to_full:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"disk {cfg.path} will be full in ~{_human(ttf)} at the current "
                               f"rate ({percent:.1f}% used now)", resource="disk",
                               forecast=True, **details)
        if cfg.warn_usage_percent is not None and percent >= cfg.warn_usage_percent:
            return self.result(CheckKind.DEGRADED, latency,
                               f"disk {cfg.path} {percent:.1f}% used", **details)
        return self.result(CheckKind.HEALTHY, latency, **details)

    def _forecast(self, used: int, free: int) -> float | None:
        """Seconds until full by a least-squares line through the window's samples."""
        now = time.monotonic()
        window = self.config.forecast_window / 1000
        self.samples.append((now, used))
        while self.samples and now - self.samples[0][0] > window:
            self.samples.popleft()
        if len(self.samples) < MIN_SAMPLES or now - self.samples[0][0] < window * MIN_SPAN_SHARE:
            return None
        n = len(self.samples)
        mean_t = sum(t for t, _ in self.samples) / n
        mean_u = sum(u for _, u in self.samples) / n
        var = sum((t - mean_t) ** 2 for t, _ in self.samples)
        if var == 0:
            return None
        slope = sum((t - mean_t) * (u - mean_u) for t, u in self.samples) / var  # bytes/s
        if slope <= 0:
            return None
        return free / slope


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
