#!/usr/bin/env python3
"""From a crash to healthy again: a container killed with `docker kill` (seen through Docker's
event stream, repaired with restart_container) against the same service as a host process
killed with SIGKILL (seen through the child watcher, repaired with restart_command).

    .venv/bin/python bench/container_restart.py [--rounds 5] [--json out.json]   (as root)

The service is the same in both: busybox httpd with a CGI /cgi-bin/health (tests/dockerd.py),
checked every 60 s, so only the push signal explains a quick repair. A private dockerd is
started on its own socket and stopped at the end. Times are taken by a client polling the
daemon's /api/monitoring/health every 10 ms: "detected" is the first poll that sees the
service down, "healthy" the first that sees it healthy again, both from just before the kill
(for the container that includes the docker CLI's own run, given as killReturnedMs).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dockerd import BUSYBOX, DockerDaemon  # noqa: E402
from tests.helpers import DaemonProcess, free_port, http, services_file, wait_for  # noqa: E402

HEALTH = "/cgi-bin/health"


def _state(d: DaemonProcess, name: str) -> str:
    status, body = http("GET", d.url + "/api/monitoring/health", timeout=2)
    return str(body["services"][name]["status"]) if status in (200, 503) else "?"


def _round(d: DaemonProcess, name: str, kill: Any) -> tuple[float, float, float]:
    wait_for(lambda: _state(d, name) == "healthy", timeout=60, what=f"{name} healthy")
    time.sleep(0.5)
    t0 = time.monotonic()
    kill()
    killed = time.monotonic() - t0  # the docker CLI returns once dockerd has sent SIGKILL
    detected = None
    while time.monotonic() - t0 < 60:
        state = _state(d, name)
        now = time.monotonic() - t0
        if detected is None and state not in ("healthy", "degraded"):
            detected = now
        if detected is not None and state == "healthy":
            return killed, detected, now
        time.sleep(0.01)
    raise RuntimeError(f"{name} not healthy again within 60 s (log {d.log_path})")


def _summary(samples: list[tuple[float, float, float]]) -> dict[str, Any]:
    killed = [s[0] * 1000 for s in samples]
    det = [s[1] * 1000 for s in samples]
    heal = [s[2] * 1000 for s in samples]
    return {"rounds": len(samples),
            "killReturnedMs": {"median": round(statistics.median(killed))},
            "detectedMs": {"median": round(statistics.median(det)), "min": round(min(det)),
                           "max": round(max(det))},
            "healthyMs": {"median": round(statistics.median(heal)), "min": round(min(heal)),
                          "max": round(max(heal))}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--json", type=Path)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-ct-"))
    dockerd = DockerDaemon().start()
    daemons: list[DaemonProcess] = []
    ok = False
    try:
        image = dockerd.build_busybox_image()
        www = dockerd.root / "busybox-ctx" / "www"
        c_port, p_port = free_port(), free_port()
        name = "bench-web"
        dockerd.docker("run", "-d", "--name", name, "--network", "host", "--tmpfs", "/run",
                       "-e", f"PORT={c_port}", image)
        pid_file = tmp / "proc.pid"
        common = {"healthCheckPath": HEALTH, "interval": 60000, "timeoutThreshold": 2000,
                  "errorThreshold": 3}
        cfg = services_file({
            "in-container": {"container": name, "port": c_port, **common},
            "as-process": {"port": p_port, **common, "restart": {
                "command": [str(BUSYBOX), "httpd", "-f", "-p", f"127.0.0.1:{p_port}",
                            "-h", str(www)],
                "pidFile": str(pid_file), "autoStart": True, "stopOnExit": True,
                "stopTimeout": 2000}},
        }, startupGrace=5000, initialDelay=200,
            # Every round is a crash: neither flap protection nor the growing backoff between
            # recoveries of a service that keeps failing may count (each round is a first).
            flapMaxRecoveries=1000, resetAfter=0)
        d = DaemonProcess(tmp, cfg, {"DOCKER_HOST": dockerd.host})
        daemons.append(d)
        d.start()
        results: dict[str, list[tuple[float, float, float]]] = {"in-container": [],
                                                                 "as-process": []}
        for _ in range(args.rounds):
            results["in-container"].append(_round(
                d, "in-container", lambda: dockerd.docker("kill", name)))
            results["as-process"].append(_round(
                d, "as-process",
                lambda: os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)))
        out = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "loadavg": [round(x, 2) for x in os.getloadavg()],
               "cpus": os.cpu_count(),
               "dockerd": dockerd.docker("version", "-f", "{{.Server.Version}}").stdout.strip(),
               "results": {k: _summary(v) for k, v in results.items()}}
        text = json.dumps(out, indent=2)
        sys.stdout.write(text + "\n")
        if args.json:
            args.json.write_text(text + "\n")
        ok = True
        return 0
    finally:
        for d in daemons:
            d.stop()
        dockerd.cleanup()
        if ok:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
        else:
            sys.stderr.write(f"kept {tmp} (daemon.log) for a look\n")


if __name__ == "__main__":
    sys.exit(main())
