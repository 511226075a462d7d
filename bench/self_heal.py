#!/usr/bin/env python3
"""How many injected common failures heal without a human, and how fast the first repair
action follows detection. Real daemon, real services, real faults; nothing is mocked.

    .venv/bin/python bench/self_heal.py [--rounds 3] [--json out.json]

Faults, each injected --rounds times into its own service (one daemon watches them all):
crash (SIGKILL), hang (SIGSTOP), errors (health answers 500; a SIGHUP reload fixes it),
redis killed under a dependent app (only Redis may be acted on), data directory removed,
data directory mode changed, disk filled (a 4 MiB tmpfs; skipped without root).
A fault counts as healed without a human when the service is healthy again within the
bound and no API call was made. "detect→action" is from the moment the service was declared
failing (`detectedAt` of the recovery) to the start of its first repair attempt.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.helpers import (  # noqa: E402
    DaemonProcess,
    demo_service_config,
    free_port,
    http,
    services_file,
    wait_for,
)
from tests.support.servers import RedisServer  # noqa: E402

BOUND_S = 60.0


def pid_of(path: Path) -> int:
    return int(path.read_text().split()[0])


def build(tmp: Path, redis: RedisServer, disk: Path | None) -> tuple[dict[str, Any],
                                                                    dict[str, Callable[[], None]]]:
    ports = {n: free_port() for n in ("crash", "hang", "errors", "app", "db-dir", "db-mode")}
    pid = {n: tmp / f"{n}.pid" for n in ports}
    data = {n: tmp / f"{n}-data" for n in ("db-dir", "db-mode")}
    for folder in data.values():
        folder.mkdir(mode=0o700)
        os.chmod(folder, 0o700)
    common = {"interval": 1000, "timeoutThreshold": 1000, "errorThreshold": 2}
    services: dict[str, Any] = {
        "crash": demo_service_config(ports["crash"], pid["crash"], **common),
        "hang": demo_service_config(ports["hang"], pid["hang"], **common),
        "errors": demo_service_config(ports["errors"], pid["errors"], **common, ladder=[
            {"strategy": "signal", "signal": "HUP", "attempts": 1}, "restart"]),
        "redis": {"checks": [{"type": "redis", "url": redis.url}], **common,
                  "ladder": ["restart"],
                  "restart": {"command": redis.argv(), "pidFile": str(tmp / "redis.pid"),
                              "stopOnExit": True}},
        "app": demo_service_config(ports["app"], pid["app"], **common, dependsOn=["redis"],
                                   ladder=["restart"]),
    }
    for name, folder in data.items():
        services[name] = demo_service_config(ports[name], pid[name], **common, ladder=[
            {"strategy": "ensure_path", "paths": [{"path": str(folder), "mode": "0700"}]}])
        services[name]["restart"]["command"] += ["--data-dir", str(folder),
                                                 "--data-mode", "0700"]
    services["app"]["restart"]["command"] += ["--redis-port", str(redis.port)]
    redis_state = {"server": redis}

    def kill_redis() -> None:
        pid_file = tmp / "redis.pid"
        if pid_file.exists():
            try:
                os.kill(pid_of(pid_file), signal.SIGKILL)
                return
            except (OSError, ValueError):
                pass
        redis_state["server"].kill()

    faults: dict[str, Callable[[], None]] = {
        "crash": lambda: os.kill(pid_of(pid["crash"]), signal.SIGKILL),
        "hang": lambda: os.kill(pid_of(pid["hang"]), signal.SIGSTOP),
        "errors": lambda: http("POST", f"http://127.0.0.1:{ports['errors']}/fail"),
        "redis": kill_redis,
        "db-dir": lambda: shutil.rmtree(data["db-dir"]),
        "db-mode": lambda: os.chmod(data["db-mode"], 0o777),
    }
    if disk is not None:
        spool = disk / "spool"
        spool.mkdir()
        services["spool"] = {
            "checks": [{"type": "disk", "path": str(disk), "maxUsagePercent": 80}], **common,
            "errorThreshold": 1,
            "ladder": [{"strategy": "disk_cleanup", "directories": [str(spool)],
                        "patterns": ["*.dat"], "olderThan": 0, "targetUsagePercent": 50}]}

        def fill() -> None:
            while shutil.disk_usage(disk).used * 100 / shutil.disk_usage(disk).total < 88:
                try:
                    (spool / f"chunk{time.time_ns()}.dat").write_bytes(b"x" * 200_000)
                except OSError:
                    break
        faults["disk-full"] = fill
    # The product's defaults for backoff and grace, so that the numbers are what a user gets.
    return services_file(services, initialDelay=1000, startupGrace=15000), faults


TARGET = {"disk-full": "spool"}


def mount_tmpfs(where: Path) -> bool:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="also write the raw results here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="selfheal-"))
    disk = tmp / "disk"
    have_disk = mount_tmpfs(disk)
    redis = RedisServer(tmp / "redis").start()
    cfg, faults = build(tmp, redis, disk if have_disk else None)
    daemon = DaemonProcess(tmp, cfg).start()
    results: list[dict[str, Any]] = []
    try:
        names = list(cfg["errorMonitoring"]["services"])
        wait_for(lambda: all(daemon.state(n) == "healthy" for n in names), timeout=60,
                 what="every service healthy")
        for rnd in range(args.rounds):
            for fault, inject in faults.items():
                service = TARGET.get(fault, fault)
                before = {r["id"] for r in daemon.service(service)["recentRecoveries"]}
                injected = time.time()
                inject()
                row: dict[str, Any] = {"fault": fault, "round": rnd + 1, "service": service}
                try:
                    run = wait_for(lambda s=service, b=before: next(
                        (r for r in daemon.service(s)["recentRecoveries"]
                         if r["id"] not in b and r["status"] == "succeeded"), None),
                        timeout=BOUND_S, interval=0.05, what=f"{fault} repaired")
                    wait_for(lambda: all(daemon.state(n) == "healthy" for n in names),
                             timeout=BOUND_S, interval=0.05, what="all healthy again")
                    row.update(healed=True, detectToActionMs=run["actionDelayMs"],
                               injectToHealthyS=round(time.time() - injected, 2),
                               strategy=run["attempts"][-1]["strategy"],
                               attempts=len(run["attempts"]))
                except AssertionError as exc:
                    row.update(healed=False, why=str(exc)[:200])
                results.append(row)
                print(json.dumps(row), flush=True)
                time.sleep(1.5)  # let the checks settle before the next fault
    finally:
        daemon.stop()
        redis.kill()
        if have_disk:
            subprocess.run(["umount", "-l", str(disk)], check=False)
        for p in tmp.glob("*.pid"):
            try:
                os.kill(pid_of(p), signal.SIGKILL)
            except (OSError, ValueError):
                pass
    healed = [r for r in results if r["healed"]]
    delays = [r["detectToActionMs"] for r in healed if r["detectToActionMs"] is not None]
    first = [r["detectToActionMs"] for r in healed if r["round"] == 1
             and r["detectToActionMs"] is not None]
    print(f"\nhealed without a human: {len(healed)}/{len(results)} "
          f"({100 * len(healed) / max(1, len(results)):.0f} %)")
    if delays:
        print(f"detect->action ms, all: median {statistics.median(delays):.0f}, "
              f"max {max(delays)}, min {min(delays)}")
    if first:
        print(f"detect->action ms, first fault of each service (no backoff yet): median "
              f"{statistics.median(first):.0f}, max {max(first)}")
    by_fault: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_fault.setdefault(r["fault"], []).append(r)
    print(f"\n{'fault':18} {'healed':>7} {'detect->action ms (max)':>24} "
          f"{'inject->healthy s (median)':>27}")
    for fault, rows in by_fault.items():
        ok = [r for r in rows if r["healed"]]
        d = [r["detectToActionMs"] for r in ok if r["detectToActionMs"] is not None]
        h = [r["injectToHealthyS"] for r in ok]
        print(f"{fault:18} {len(ok)}/{len(rows):<5} {max(d) if d else '-':>24} "
              f"{statistics.median(h) if h else '-':>27}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
