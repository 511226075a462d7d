"""Container check: a Docker container is running, not restarting, not OOM-killed, not marked
unhealthy by its own HEALTHCHECK, and (optionally) within limits on memory, CPU and restarts.

What dockerd says is turned into the same kinds the process check uses: an exited container is
PROCESS_EXITED with its exit code, an OOM-killed one RESOURCE_PRESSURE on memory (so the
incident is classified as memory exhaustion), a paused one STALLED. When dockerd itself cannot
be reached the check cannot judge the container: that is a CHECK_ERROR naming the reason
(socket absent, permission denied, dockerd restarting), which does not count against the
service.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

from pydantic import Field

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    elapsed_ms,
)
from supervisor.clients.docker import ContainerNotFound, DockerUnavailable

MB = 1_048_576


class ContainerCheckConfig(CheckConfig):
    type: Literal["container"] = "container"
    container: str = Field(min_length=1, description="Container name or id.")
    stats: bool = Field(False, description="Also read CPU and memory from Docker's stats "
                                           "(dockerd answers at its next 1 s sample). On "
                                           "by itself when a limit below is set.")
    max_memory_percent: float | None = Field(None, gt=0, le=100, alias="maxMemoryPercent",
                                             description="Of the container's memory limit.")
    max_memory_mb: float | None = Field(None, gt=0, alias="maxMemoryMb")
    max_cpu_percent: float | None = Field(None, gt=0, alias="maxCpuPercent",
                                          description="Above it (100 = one core) the container "
                                                      "is degraded.")
    max_restarts: int | None = Field(None, ge=0, alias="maxRestarts",
                                     description="Restarts by Docker's own restart policy "
                                                 "beyond which the container is degraded.")

    @property
    def wants_stats(self) -> bool:
        return self.stats or any(v is not None for v in (
            self.max_memory_percent, self.max_memory_mb, self.max_cpu_percent))


@registry.register("container")
class ContainerCheck(HealthCheck):
    type_name: ClassVar[str] = "container"
    config_model: ClassVar[type[CheckConfig]] = ContainerCheckConfig
    config: ContainerCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self.docker = self.env.docker  # the daemon's one client
        self._cpu: tuple[int, int] | None = None  # (container, system) ns at the last sample

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        try:
            info = await self.docker.inspect(cfg.container)
        except ContainerNotFound:
            return self.result(CheckKind.PROCESS_EXITED, elapsed_ms(started),
                               f"no container named {cfg.container!r}", state="missing")
        except DockerUnavailable as exc:
            return self.result(CheckKind.CHECK_ERROR, elapsed_ms(started), str(exc))
        latency = elapsed_ms(started)
        verdict = judge_state(cfg.container, info)
        if verdict is not None:
            kind, message, details = verdict
            return self.result(kind, latency, message, **details)
        details = state_details(info)
        if cfg.max_restarts is not None and details["restartCount"] > cfg.max_restarts:
            return self.result(CheckKind.DEGRADED, latency,
                               f"container {cfg.container} was restarted "
                               f"{details['restartCount']} times by Docker (limit "
                               f"{cfg.max_restarts})", **details)
        if cfg.wants_stats:
            try:
                raw = await self.docker.stats(cfg.container)
            except (ContainerNotFound, DockerUnavailable) as exc:
                return self.result(CheckKind.CHECK_ERROR, latency, f"stats: {exc}")
            details.update(self._usage(raw))
            problem = self._over_limits(details, latency)
            if problem is not None:
                return problem
        return self.result(CheckKind.HEALTHY, latency, **details)

    def _usage(self, raw: dict[str, Any]) -> dict[str, Any]:
        """Memory (as `docker stats` shows it: usage less page cache) and CPU since the last
        run, like `docker stats` between two samples."""
        mem = raw.get("memory_stats") or {}
        inner = mem.get("stats") or {}
        usage = int(mem.get("usage") or 0) - int(inner.get("total_inactive_file",
                                                           inner.get("inactive_file", 0)) or 0)
        limit = int(mem.get("limit") or 0)
        out: dict[str, Any] = {"memoryMb": round(max(usage, 0) / MB, 1)}
        if limit:
            out["memoryLimitMb"] = round(limit / MB, 1)
            out["memoryPercent"] = round(100 * max(usage, 0) / limit, 1)
        cpu = raw.get("cpu_stats") or {}
        total = int((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
        system = int(cpu.get("system_cpu_usage") or 0)
        cores = int(cpu.get("online_cpus") or 1)
        if self._cpu is not None and system > self._cpu[1]:
            share = (total - self._cpu[0]) / (system - self._cpu[1])
            out["cpuPercent"] = round(max(share, 0.0) * cores * 100, 1)
        self._cpu = (total, system)
        return out

    def _over_limits(self, d: dict[str, Any], latency: float) -> CheckResult | None:
        cfg = self.config
        name = cfg.container
        if cfg.max_memory_mb is not None and d["memoryMb"] > cfg.max_memory_mb:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"container {name} uses {d['memoryMb']:.0f} MB "
                               f"(limit {cfg.max_memory_mb:g} MB)", resource="memory", **d)
        pct = d.get("memoryPercent")
        if cfg.max_memory_percent is not None and pct is not None \
                and pct > cfg.max_memory_percent:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"container {name} uses {pct:.0f}% of its memory limit "
                               f"(warn above {cfg.max_memory_percent:g}%)",
                               resource="memory", **d)
        cpu = d.get("cpuPercent")
        if cfg.max_cpu_percent is not None and cpu is not None and cpu > cfg.max_cpu_percent:
            return self.result(CheckKind.DEGRADED, latency,
                               f"container {name} uses {cpu:.0f}% CPU "
                               f"(limit {cfg.max_cpu_percent:g}%)", resource="cpu", **d)
        return None


def state_details(info: dict[str, Any]) -> dict[str, Any]:
    st = info.get("State") or {}
    out: dict[str, Any] = {"id": str(info.get("Id", ""))[:12],
                           "status": st.get("Status", ""),
                           "restartCount": int(info.get("RestartCount") or 0)}
    health = (st.get("Health") or {}).get("Status")
    if health:
        out["health"] = health
    return out


def judge_state(name: str, info: dict[str, Any]
                ) -> tuple[CheckKind, str, dict[str, Any]] | None:
    """A failing verdict from a container's inspect data, or None when it runs fine.
    Shared with the event watcher, which inspects a container that just died."""
    st = info.get("State") or {}
    d = state_details(info)
    limit = int((info.get("HostConfig") or {}).get("Memory") or 0)
    # Docker 20.10 keeps OOMKilled true after a plain start until the next exit: it speaks
    # only of a container that is not running.
    if st.get("OOMKilled") and not st.get("Running"):
        where = f" (memory limit {limit / MB:g} MB)" if limit else ""
        return (CheckKind.RESOURCE_PRESSURE,
                f"container {name} was killed for running out of memory{where}",
                {**d, "resource": "memory", "oomKilled": True,
                 "exitCode": st.get("ExitCode")})
    if st.get("Restarting"):
        return (CheckKind.PROCESS_EXITED,
                f"container {name} keeps exiting: Docker is restarting it (exit code "
                f"{st.get('ExitCode')}, {d['restartCount']} restarts)",
                {**d, "exitCode": st.get("ExitCode")})
    if st.get("Paused"):
        return CheckKind.STALLED, f"container {name} is paused", d
    if not st.get("Running"):
        status = st.get("Status", "stopped")
        if status == "created":
            return CheckKind.PROCESS_EXITED, f"container {name} was created but never started", d
        code = st.get("ExitCode")
        return (CheckKind.PROCESS_EXITED, f"container {name} is {status} (exit code {code})",
                {**d, "exitCode": code})
    if d.get("health") == "unhealthy":
        log = (st.get("Health") or {}).get("Log") or []
        last = str(log[-1].get("Output", "")).strip()[:200] if log else ""
        return (CheckKind.UNHEALTHY,
                f"container {name} is unhealthy by its own HEALTHCHECK"
                + (f": {last}" if last else ""), d)
    return None

