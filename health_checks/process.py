"""Process check: a pid (or pidfile) is alive, not stopped, and under an RSS limit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar, Literal

import psutil
from pydantic import Field, model_validator

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck


class ProcessCheckConfig(CheckConfig):
    type: Literal["process"] = "process"
    pid: int | None = Field(default=None, gt=0)
    pid_file: str | None = Field(default=None, alias="pidFile")
    max_rss_mb: float | None = Field(default=None, gt=0, alias="maxRssMb")

    @model_validator(mode="after")
    def _needs_a_target(self) -> ProcessCheckConfig:
        if self.pid is None and self.pid_file is None:
            raise ValueError("needs pid or pidFile")
        return self


def read_pid_file(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
        return int(text.split()[0]) if text else None
    except (OSError, ValueError):
        return None


@registry.register("process")
class ProcessCheck(HealthCheck):
    type_name: ClassVar[str] = "process"
    config_model: ClassVar[type[CheckConfig]] = ProcessCheckConfig
    config: ProcessCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        pid = cfg.pid if cfg.pid is not None else read_pid_file(cfg.pid_file or "")
        if pid is None:
            return self.result(CheckKind.PROCESS_EXITED, 0.0,
                               f"no pid in {cfg.pid_file}")
        try:
            proc = psutil.Process(pid)
            with proc.oneshot():
                status = proc.status()
                rss = proc.memory_info().rss
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return self.result(CheckKind.PROCESS_EXITED, 0.0, f"process {pid} is gone", pid=pid)
        except psutil.AccessDenied as exc:
            return self.result(CheckKind.CHECK_ERROR, 0.0, f"cannot inspect {pid}: {exc}")
        latency = (time.perf_counter() - started) * 1000.0
        if status == psutil.STATUS_ZOMBIE:
            return self.result(CheckKind.PROCESS_EXITED, latency, f"process {pid} is a zombie",
                               pid=pid)
        if status == psutil.STATUS_STOPPED:
            return self.result(CheckKind.STALLED, latency, f"process {pid} is stopped", pid=pid)
        rss_mb = rss / 1_048_576
        if cfg.max_rss_mb is not None and rss_mb > cfg.max_rss_mb:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"process {pid} RSS {rss_mb:.0f} MB > {cfg.max_rss_mb:.0f} MB",
                               pid=pid, rssMb=round(rss_mb, 1), resource="memory")
        return self.result(CheckKind.HEALTHY, latency, pid=pid, rssMb=round(rss_mb, 1))
