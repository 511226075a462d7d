"""Process check: a process found by pid, pidfile, name, command line or systemd unit is alive,
not stopped, and within limits on RSS, CPU, open files and threads; and its memory does not
grow steadily over a window the way a leak does."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import deque
from typing import Any, ClassVar, Literal

import psutil
from pydantic import ConfigDict, Field, field_validator, model_validator

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    compile_regex,
    elapsed_ms,
)
from supervisor.processes.pidfile import read_pid_file

LEAK_RISING_SHARE = 0.7  # share of steps between samples that must rise for a "leak"


class ProcessCheckConfig(CheckConfig):
    # What _needs_a_target says, for the published schema (an editor shows it).
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": [k], "properties": {k: {"not": {"type": "null"}}}}
        for k in ("pid", "pidFile", "processName", "cmdline", "systemdUnit")]})

    type: Literal["process"] = "process"
    pid: int | None = Field(default=None, gt=0)
    pid_file: str | None = Field(default=None, alias="pidFile")
    process_name: str | None = Field(default=None, alias="processName",
                             description="Exact process name (as in ps -o comm).")
    cmdline: str | None = Field(default=None, description="Regex the command line must match.")
    systemd_unit: str | None = Field(default=None, alias="systemdUnit",
                                     description="Watch the unit's MainPID.")
    max_rss_mb: float | None = Field(default=None, gt=0, alias="maxRssMb")
    max_cpu_percent: float | None = Field(default=None, gt=0, alias="maxCpuPercent",
                                          description="Above it (since the last run) the "
                                                      "process is degraded.")
    max_open_files: int | None = Field(default=None, gt=0, alias="maxOpenFiles")
    max_threads: int | None = Field(default=None, gt=0, alias="maxThreads")
    leak_window: float | None = Field(default=None, gt=0, alias="leakWindow",
                                      description="ms over which memory growth is judged.")
    leak_growth_mb: float = Field(default=100, gt=0, alias="leakGrowthMb",
                                  description="Steady RSS growth over leakWindow that counts "
                                              "as a leak.")

    @field_validator("cmdline")
    @classmethod
    def _regex(cls, v: str | None) -> str | None:
        if v is not None:
            compile_regex(v)
        return v

    @model_validator(mode="after")
    def _needs_a_target(self) -> ProcessCheckConfig:
        targets = [self.pid, self.pid_file, self.process_name, self.cmdline, self.systemd_unit]
        if sum(t is not None for t in targets) != 1:
            raise ValueError("needs exactly one of pid, pidFile, processName, cmdline, "
                             "systemdUnit")
        return self


@registry.register("process")
class ProcessCheck(HealthCheck):
    type_name: ClassVar[str] = "process"
    config_model: ClassVar[type[CheckConfig]] = ProcessCheckConfig
    config: ProcessCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self._proc: psutil.Process | None = None  # kept: cpu_percent measures between calls
        self.rss: deque[tuple[float, int]] = deque(maxlen=10_000)

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        pid, why = await self._find()
        if pid is None:
            return self.result(CheckKind.PROCESS_EXITED, elapsed_ms(started), why)
        try:
            info = await asyncio.to_thread(self._inspect, pid)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            return self.result(CheckKind.PROCESS_EXITED, elapsed_ms(started),
                               f"process {pid} is gone", pid=pid)
        except psutil.AccessDenied as exc:
            return self.result(CheckKind.CHECK_ERROR, elapsed_ms(started),
                               f"cannot inspect {pid}: {exc}")
        latency = elapsed_ms(started)
        status = info.pop("status")
        if status == psutil.STATUS_ZOMBIE:
            return self.result(CheckKind.PROCESS_EXITED, latency, f"process {pid} is a zombie",
                               pid=pid)
        if status == psutil.STATUS_STOPPED:
            return self.result(CheckKind.STALLED, latency, f"process {pid} is stopped", pid=pid)
        d: dict[str, Any] = {"pid": pid, **info}
        rss_mb = d["rssMb"]
        if cfg.max_rss_mb is not None and rss_mb > cfg.max_rss_mb:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"process {pid} RSS {rss_mb:.0f} MB > {cfg.max_rss_mb:.0f} MB",
                               resource="memory", **d)
        growth = self._leak(pid, rss_mb)
        if growth is not None:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"process {pid} memory grew {growth:.0f} MB in "
                               f"{(cfg.leak_window or 0) / 1000:g} s, steadily: looks like a leak "
                               f"(RSS now {rss_mb:.0f} MB)", resource="memory", leak=True, **d)
        if cfg.max_open_files is not None and d["openFiles"] > cfg.max_open_files:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"process {pid} has {d['openFiles']} open files "
                               f"(limit {cfg.max_open_files})", resource="fds", **d)
        if cfg.max_threads is not None and d["threads"] > cfg.max_threads:
            return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                               f"process {pid} runs {d['threads']} threads "
                               f"(limit {cfg.max_threads})", resource="threads", **d)
        if cfg.max_cpu_percent is not None and d["cpuPercent"] > cfg.max_cpu_percent:
            return self.result(CheckKind.DEGRADED, latency,
                               f"process {pid} uses {d['cpuPercent']:.0f}% CPU "
                               f"(limit {cfg.max_cpu_percent:g}%)", resource="cpu", **d)
        return self.result(CheckKind.HEALTHY, latency, **d)

    async def _find(self) -> tuple[int | None, str]:
        cfg = self.config
        if cfg.pid is not None:
            return cfg.pid, ""
        if cfg.pid_file is not None:
            pid = read_pid_file(cfg.pid_file)
            return pid, f"no pid in {cfg.pid_file}"
        if cfg.systemd_unit is not None:
            return await _main_pid(cfg.systemd_unit)
        pid = await asyncio.to_thread(_match, cfg.process_name, cfg.cmdline)
        what = (f"named {cfg.process_name!r}" if cfg.process_name
                else f"whose command line matches {cfg.cmdline!r}")
        return pid, f"no process {what}"

    def _inspect(self, pid: int) -> dict[str, Any]:
        """Runs in a thread: psutil reads several /proc files per process."""
        if self._proc is None or self._proc.pid != pid:
            self._proc = psutil.Process(pid)
            self._proc.cpu_percent(None)  # starts the measurement; the next run reads it
            self.rss.clear()
        proc = self._proc
        with proc.oneshot():
            return {"status": proc.status(),
                    "rssMb": round(proc.memory_info().rss / 1_048_576, 1),
                    "cpuPercent": proc.cpu_percent(None),
                    "threads": proc.num_threads(),
                    "openFiles": proc.num_fds()}

    def _leak(self, pid: int, rss_mb: float) -> float | None:
        """MB of steady growth over the full window, or None."""
        window = self.config.leak_window
        if window is None:
            return None
        now = time.monotonic()
        self.rss.append((now, int(rss_mb * 1_048_576)))
        span = window / 1000
        while len(self.rss) > 2 and now - self.rss[1][0] >= span:
            self.rss.popleft()  # keep one sample at or beyond the window's start
        first_t, first = self.rss[0]
        if now - first_t < span or len(self.rss) < 3:
            return None
        steps = list(zip(self.rss, list(self.rss)[1:], strict=False))
        rising = sum(1 for (_, a), (_, b) in steps if b > a) / len(steps)
        growth = (self.rss[-1][1] - first) / 1_048_576
        if growth >= self.config.leak_growth_mb and rising >= LEAK_RISING_SHARE:
            return growth
        return None


def _match(name: str | None, cmdline: str | None) -> int | None:
    """The oldest process with this name or command line, never the daemon itself."""
    pattern = re.compile(cmdline) if cmdline else None
    me = os.getpid()
    found: list[tuple[float, int]] = []
    for p in psutil.process_iter(["pid", "name", "cmdline", "create_time"]):
        if p.info["pid"] == me:
            continue
        if name is not None and p.info["name"] != name:
            continue
        if pattern is not None and not pattern.search(" ".join(p.info["cmdline"] or [])):
            continue
        found.append((p.info["create_time"] or 0.0, p.info["pid"]))
    return min(found)[1] if found else None


async def _main_pid(unit: str) -> tuple[int | None, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            "systemctl", "show", "--property", "MainPID", "--value", unit,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    except OSError as exc:
        return None, f"cannot ask systemd about {unit}: {exc.strerror or exc}"
    if proc.returncode != 0:
        return None, f"systemctl show {unit} failed: {err.decode(errors='replace').strip()}"
    try:
        pid = int(out.decode().strip() or 0)
    except ValueError:
        return None, f"systemctl show {unit}: unexpected MainPID {out[:40]!r}"
    return (pid, "") if pid > 0 else (None, f"unit {unit} has no main process")
