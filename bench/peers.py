"""The three supervisors under comparison, each configured from the same description.

A peer is given either supervised targets (demo services it starts, checks over HTTP and
restarts) or a scale server's paths (HTTP checks only, nothing to restart). Every peer gets
the same interval, timeout and failure threshold (1: act on the first failed check); what a
peer cannot be told is listed in `LIMITS` and printed in the report.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil

from bench.procs import Reaper, free_port, http_get, tree, wait_for

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scripts" / "demo_service.py"
MONIT = "/usr/bin/monit"
# Monit waits this long for a started program's process to appear, and does not test the
# service's port before that time has passed; the services here start within ~1 s.
START_TIMEOUT_S = 3
SUPERVISORD = "/usr/bin/supervisord"


@dataclass
class Target:
    """A demo service (scripts/demo_service.py) that a peer starts and keeps alive."""

    name: str
    port: int
    pid_file: Path

    def argv(self) -> list[str]:
        return [sys.executable, str(DEMO), "--port", str(self.port),
                "--pidfile", str(self.pid_file)]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"


@dataclass
class Checks:
    interval_s: float
    timeout_s: float


class Peer:
    name: ClassVar[str]
    version: ClassVar[str] = ""
    polls_http: ClassVar[bool] = True  # can it notice a hang or an HTTP 500 at all?
    scale_only: ClassVar[bool] = False  # a variant that differs only in the scale scenarios

    def __init__(self, reaper: Reaper, workdir: Path) -> None:
        self.reaper = reaper
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None

    # -- what a scenario calls ---------------------------------------------------------------
    def supervise(self, targets: list[Target], checks: Checks) -> None:
        raise NotImplementedError

    def watch_paths(self, port: int, paths: int, checks: Checks) -> None:
        raise NotImplementedError

    def own_processes(self) -> list[psutil.Process]:
        """The peer's process tree without the services it supervises."""
        if self.proc is None:
            return []
        return [p for p in tree(self.proc.pid) if not _is_target(p)]

    def stop(self) -> None:
        if self.proc is not None:
            self.reaper.stop(self.proc, marked=self.workdir)
            self.proc = None

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = self.reaper.spawn(argv, self.workdir / f"{self.name}.log", env=env,
                                      cwd=ROOT)

    def log_tail(self, n: int = 20) -> str:
        path = self.workdir / f"{self.name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _is_target(p: psutil.Process) -> bool:
    try:
        return str(DEMO) in " ".join(p.cmdline())
    except psutil.Error:
        return False


class Soulfra(Peer):
    name = "soulfra-supervisor"
    # When set (bench/run --profile DIR), the daemon runs under cProfile and leaves a .prof
    # file there per run, to see where its CPU goes (python -m pstats FILE).
    profile_dir: ClassVar[Path | None] = None
    # Fresh connection per check, as Monit does; SoulfraReuse keeps them (Envoy's default).
    reuse: ClassVar[bool] = False
    # The checkout the daemon runs from (bench/run --soulfra-root: an older commit).
    root: ClassVar[Path] = ROOT

    def _config(self, services: dict[str, object]) -> Path:
        cfg = {"errorMonitoring": {"services": services, "recovery": {
            "strategies": ["restart"], "maxAttempts": 3, "backoffMultiplier": 2,
            "initialDelay": 1000, "startupGrace": 15000,
            # the scenarios restart the same service many times on purpose, each fault after
            # several healthy seconds: each is a first fault, not a crash loop to back off
            "flapMaxRecoveries": 1000, "resetAfter": 3000}}}
        path = self.workdir / "services.json"
        path.write_text(json.dumps(cfg, indent=1))
        return path

    def _reuse(self) -> dict[str, bool]:
        # An older checkout (--soulfra-root) knows no reuseConnection: it always checks fresh.
        return {"reuseConnection": self.reuse} if self.root == ROOT or self.reuse else {}

    def down_services(self) -> int | None:
        """How many services the daemon holds for down now (false alarms, in a scale run)."""
        status, body = http_get(self.api, 30.0)
        if status not in (200, 503) or not isinstance(body, dict):
            return None
        return sum(1 for s in body["services"].values()
                   if s.get("status") not in ("healthy", "degraded"))

    def run_services(self, services: dict[str, object], env: dict[str, str]) -> int:
        """Run the daemon on these services.json entries; returns its API port."""
        return self._run(self._config(services), env, 60)

    def _run(self, config: Path, env: dict[str, str], ready_timeout: float) -> int:
        port = free_port()
        data = self.workdir / "data"
        prof: list[str] = []
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            prof = ["-m", "cProfile", "-o", str(self.profile_dir / f"{self.workdir.name}.prof")]
        self.proc = self.reaper.spawn(
            [sys.executable, *prof, "-m", "supervisor", "run", "--config", str(config),
             "--port", str(port), "--data-dir", str(data)], self.workdir / f"{self.name}.log",
            env={**os.environ, "SOULFRA_LOG_FORMAT": "json", **env}, cwd=self.root)
        self.base = f"http://127.0.0.1:{port}"
        api = f"{self.base}/api/monitoring/health"
        self.api = api
        assert self.proc is not None
        proc = self.proc
        wait_for(lambda: proc.poll() is not None or http_get(api, 2.0)[0] in (200, 503),
                 ready_timeout, 0.2, f"{self.name} API")
        if proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
        return port

    def target_entry(self, t: Target, checks: Checks) -> dict[str, object]:
        """The services.json entry of a demo service the daemon starts, checks, restarts."""
        return {
            "port": t.port, "healthCheckPath": "/health",
            "interval": checks.interval_s * 1000, "timeoutThreshold": checks.timeout_s * 1000,
            "errorThreshold": 1, "successThreshold": 1, "autoRestart": True, **self._reuse(),
            "restart": {"command": t.argv(), "pidFile": str(t.pid_file), "autoStart": True,
                        "stopOnExit": True, "stopTimeout": 2000}}

    def supervise(self, targets: list[Target], checks: Checks) -> None:
        services: dict[str, object] = {t.name: self.target_entry(t, checks) for t in targets}
        self._run(self._config(services), {}, 60 + len(targets))

    def watch_paths(self, port: int, paths: int, checks: Checks) -> None:
        services: dict[str, object] = {f"p{i}": {
            "baseUrl": f"http://127.0.0.1:{port}", "healthCheckPath": f"/p{i}",
            "interval": checks.interval_s * 1000, "timeoutThreshold": checks.timeout_s * 1000,
            "errorThreshold": 1, "autoRestart": False, **self._reuse()} for i in range(paths)}
        # Alert-only, like Monit's "then alert": no recovery runs for the hung paths. No
        # overhead budget (Monit has none): the scenario measures what the checks cost.
        self._run(self._config(services), {"AUTO_RECOVERY_ENABLED": "false",
                                           "MONITORING_OVERHEAD_LIMIT": "400"},
                  120 + paths / 50)


class SoulfraReuse(Soulfra):
    """The same daemon keeping each check's connection (reuseConnection: true)."""

    name = "soulfra-reuse"
    reuse = True
    scale_only = True  # the demo services of the other scenarios speak HTTP/1.0: no reuse


class Monit(Peer):
    name = "monit"

    @staticmethod
    def cycle_s(checks: Checks) -> int:
        # `set daemon` takes whole seconds; 1 s is the shortest cycle Monit accepts.
        return max(1, math.ceil(checks.interval_s))

    def _header(self, checks: Checks) -> str:
        w = self.workdir
        return (f"set daemon {self.cycle_s(checks)}\n"
                f"set logfile {w}/monit.events.log\n"
                f"set pidfile {w}/monit.pid\n"
                f"set idfile {w}/monit.id\n"
                f"set statefile {w}/monit.state\n")

    def _run(self, text: str) -> None:
        rc = self.workdir / "monitrc"
        rc.write_text(text)
        rc.chmod(0o600)  # Monit refuses a control file others can read
        self._spawn([MONIT, "-I", "-c", str(rc)])

    def supervise(self, targets: list[Target], checks: Checks) -> None:
        timeout = max(1, math.ceil(checks.timeout_s))
        parts = [self._header(checks)]
        for t in targets:
            pid = t.pid_file
            stop = f"/bin/sh -c 'kill -CONT $(cat {pid}); kill -TERM $(cat {pid})'"
            # Monit waits for a start program to return (and kills it at the timeout): the
            # service must detach, as a daemon would; sh's `&` does that.
            start = f"/bin/sh -c '{' '.join(t.argv())} >>{self.workdir}/{t.name}.log 2>&1 &'"
            parts.append(
                f"check process {t.name} with pidfile {pid}\n"
                f"  start program = \"{start}\" with timeout {START_TIMEOUT_S} seconds\n"
                f"  stop program = \"{stop}\" with timeout 2 seconds\n"
                f"  if failed host 127.0.0.1 port {t.port} protocol http request \"/health\""
                f" with timeout {timeout} seconds then restart\n")
        self._run("\n".join(parts))

    def watch_blocks(self, blocks: list[str], cycle_s: float) -> None:
        """Run Monit on control-file blocks written elsewhere (the fault zoo's)."""
        self._run("\n".join([self._header(Checks(cycle_s, cycle_s)), *blocks]))

    def watch_paths(self, port: int, paths: int, checks: Checks) -> None:
        timeout = max(1, math.ceil(checks.timeout_s))
        parts = [self._header(checks)]
        for i in range(paths):
            parts.append(
                f"check host p{i} with address 127.0.0.1\n"
                f"  if failed port {port} protocol http request \"/p{i}\""
                f" with timeout {timeout} seconds then alert\n")
        self._run("\n".join(parts))


class Supervisord(Peer):
    name = "supervisord"
    polls_http = False  # it watches its children's exit only; it has no health checks

    def supervise(self, targets: list[Target], checks: Checks) -> None:
        w = self.workdir
        parts = [f"[supervisord]\nnodaemon=true\nlogfile={w}/supervisord.events.log\n"
                 f"pidfile={w}/supervisord.pid\nchildlogdir={w}\n"]
        for t in targets:
            parts.append(f"[program:{t.name}]\ncommand={' '.join(t.argv())}\n"
                         "autostart=true\nautorestart=true\nstartsecs=1\nstartretries=1000\n"
                         "stopsignal=TERM\nstopwaitsecs=2\n"
                         f"stdout_logfile={w}/{t.name}.log\nredirect_stderr=true\n")
        conf = w / "supervisord.conf"
        conf.write_text("\n".join(parts))
        # Debian's supervisord runs under the system Python: keep the project's venv out of it.
        env = {k: v for k, v in os.environ.items()
               if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        self._spawn([SUPERVISORD, "-c", str(conf)], env=env)

    def watch_paths(self, port: int, paths: int, checks: Checks) -> None:
        raise NotImplementedError("supervisord has no HTTP checks")


PEERS: dict[str, type[Peer]] = {p.name: p for p in (Soulfra, SoulfraReuse, Monit, Supervisord)}

# What a peer cannot be told, stated in the report next to its numbers.
LIMITS: dict[str, list[str]] = {
    "monit": [
        "`set daemon` takes whole seconds: the shortest cycle is 1 s, and the interval is the "
        "sleep *between* cycles, so a cycle that takes long (many or hung checks) stretches it.",
        "Checks run one after another within a cycle; connection timeouts are whole seconds.",
        f"After starting a service it did not test its port until the start program's timeout "
        f"had passed (seen with 15 s: every fault in the following 15 s went unnoticed), so "
        f"the timeout is {START_TIMEOUT_S} s here and the scenarios wait that long between "
        f"faults.",
        "Waits for a start program to return, so services are started detached (`sh -c '... "
        "&'`); their parent is then the benchmark harness, a child subreaper that reaps them "
        "at once, as a normal init would (pid 1 on these machines reaps only every ~1.7 s).",
    ],
    "supervisord": [
        "No health checks at all: it restarts a child when it exits (SIGCHLD) and cannot "
        "notice a hang or an HTTP 500 (\"not detected\"), nor check N HTTP paths (scale: "
        "not applicable).",
    ],
    "soulfra-supervisor": [
        "Scale scenarios run with AUTO_RECOVERY_ENABLED=false (alert-only, like Monit's "
        "`then alert`) and MONITORING_OVERHEAD_LIMIT=400 (no budget: otherwise the daemon "
        "would stretch the intervals it is measured at). `soulfra-reuse` is the same daemon "
        "keeping each check's connection (reuseConnection, scale scenarios only); "
        "`soulfra-supervisor` opens a fresh one per check, as Monit does. Because the "
        "scenarios fault the same service again after ~6 s of "
        "health, flapMaxRecoveries is raised to 1000 and resetAfter lowered to 3 s: each fault "
        "is repaired as a first fault (by default, recoveries within 5 min of each other wait "
        "1 s, 2 s, 4 s, ... first, to back off a crash loop).",
    ],
}


def peer_versions() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        v = subprocess.run([MONIT, "-V"], capture_output=True, text=True, timeout=10)
        out["monit"] = v.stdout.split("\n")[0].replace("This is Monit version ", "").strip()
    except OSError:
        out["monit"] = "missing"
    try:
        v = subprocess.run([SUPERVISORD, "--version"], capture_output=True, text=True,
                           timeout=10, env={"PATH": "/usr/bin:/bin"})
        out["supervisord"] = v.stdout.strip() or v.stderr.strip()
    except OSError:
        out["supervisord"] = "missing"
    from supervisor import __version__
    out["soulfra-supervisor"] = __version__
    return out


def peers_missing() -> list[str]:
    """Names of the peers whose programs are missing."""
    return [name for name, exe in (("monit", MONIT), ("supervisord", SUPERVISORD))
            if not (Path(exe).exists() or shutil.which(Path(exe).name))]
