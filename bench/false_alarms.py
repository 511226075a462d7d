"""False alarms: only healthy services, under stress; every failure declared is a false one.

One soulfra-supervisor watches, for the whole run:
- `plain`: demo services it starts and restarts (GET /health, answered at once);
- `slow`: demo services whose health path answers after SLOW_FRACTION of the check timeout
  (slow but healthy, near their timeout), also restartable;
- `endpoints`: N paths of one scale server (bench/scale_server.py) at a short interval, checked
  only (nothing to restart).
Every supervised service acts on the *first* failed check (errorThreshold 1, as in the other
scenarios): the harshest setting for false alarms.

The run goes through conditions, each a window of the same length:
- `quiet`: nothing else happens (the baseline);
- `cpu`: one busy-loop process per core, started and stopped by the bench (the machine's CPU
  saturated by someone else, at the same priority as the daemon);
- `loop`: the daemon's own event loop blocked again and again (the fault-injection route
  POST /api/monitoring/debug/faults `block_loop`, BLOCKS_S in turn, one every BLOCK_EVERY_S);
- `cpu+loop`: both at once.
Counted per condition from the daemon's own API (/metrics counters, read before and after
the window and SETTLE_S after the stress stopped, so a late verdict counts where it belongs):
transitions into failing / gave_up (false failures) and into degraded, recovery attempts
(false repairs), checks run and checks judged inconclusive (the daemon's own trouble, not
counted against a service); and, independently of the daemon, every change of a supervised
service's pid (false restarts).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psutil
from prometheus_client.parser import text_string_to_metric_families

from bench.peers import Checks, Soulfra, Target
from bench.procs import Reaper, free_port, http_get, wait_for
from bench.scale import SERVER

CONDITIONS = ("quiet", "cpu", "loop", "cpu+loop")
SLOW_FRACTION = 0.75
BLOCKS_S = (0.5, 1.5, 3.0)
BLOCK_EVERY_S = 5.0
SETTLE_S = 5.0
FAILED_STATES = ("failing", "gave_up")
GROUPS = ("plain", "slow", "endpoints")
HOG = "import sys\nwhile True:\n    pass\n"


def _group(service: str) -> str:
    return next((g for g in GROUPS if service.startswith(g)), "other")


def _scrape(base: str) -> dict[str, Counter[str]]:
    """The counters this run reads, summed by (group, label) from /metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=60) as resp:
        text = resp.read().decode()
    out: dict[str, Counter[str]] = {k: Counter() for k in ("transitions", "attempts", "checks")}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.endswith("_total"):
                continue
            service = s.labels.get("service", "")
            if family.name == "soulfra_state_transitions":
                out["transitions"][f"{_group(service)}/{s.labels['state']}"] += int(s.value)
            elif family.name == "soulfra_recovery_attempts":
                out["attempts"][_group(service)] += int(s.value)
            elif family.name == "soulfra_check_results":
                out["checks"][_group(service)] += int(s.value)
    return out


def _inconclusive(base: str) -> int:
    status, body = http_get(base + "/api/monitoring/status", 60)
    if status != 200 or not isinstance(body, dict):
        return 0
    return int(body.get("checks", {}).get("inconclusive", {}).get("total", 0))


def _pids(targets: list[Target]) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for t in targets:
        try:
            out[t.name] = int(t.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            out[t.name] = None
    return out


class Stress:
    """The stress of one condition: CPU hogs and/or a thread that blocks the daemon's loop."""

    def __init__(self, reaper: Reaper, workdir: Path, base: str, condition: str) -> None:
        self.reaper, self.workdir, self.base = reaper, workdir, base
        self.cpu = "cpu" in condition
        self.loop = "loop" in condition
        self.hogs: list[Any] = []
        self.blocks: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Stress:
        if self.cpu:
            for i in range(psutil.cpu_count() or 1):
                # the run's folder in the command line: the sweep finds them after a crash
                self.hogs.append(self.reaper.spawn(
                    [sys.executable, "-c", HOG, str(self.workdir)],
                    self.workdir / f"hog{i}.log"))
        if self.loop:
            self._thread = threading.Thread(target=self._block, name="block-loop", daemon=True)
            self._thread.start()
        return self

    def _block(self) -> None:
        i = 0
        while i == 0 or not self._stop.wait(BLOCK_EVERY_S):  # the first one at once
            seconds = BLOCKS_S[i % len(BLOCKS_S)]
            i += 1
            body = json.dumps({"fault": "block_loop", "ms": int(seconds * 1000)}).encode()
            req = urllib.request.Request(self.base + "/api/monitoring/debug/faults", data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=seconds + 30) as resp:
                    if resp.status == 200:
                        self.blocks.append(seconds)
            except OSError:
                pass

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        for hog in self.hogs:
            self.reaper.stop(hog, grace=2)


def _diff(after: dict[str, Counter[str]], before: dict[str, Counter[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in after:
        d = after[key].copy()
        d.subtract(before[key])
        out[key] = {k: v for k, v in d.items() if v}
    return out


def _condition(peer: Soulfra, reaper: Reaper, workdir: Path, condition: str,
               targets: list[Target], window_s: float) -> dict[str, Any]:
    base = peer.base
    before, pids_before, inc_before = _scrape(base), _pids(targets), _inconclusive(base)
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    with Stress(reaper, workdir, base, condition) as stress:
        time.sleep(window_s)
        load_peak = os.getloadavg()[0]
    time.sleep(SETTLE_S)
    d = _diff(_scrape(base), before)
    pids = _pids(targets)
    restarted = sorted(n for n, p in pids.items() if p != pids_before.get(n))
    t = d["transitions"]
    failures = {g: sum(v for k, v in t.items() if k.startswith(g + "/")
                       and k.split("/", 1)[1] in FAILED_STATES) for g in GROUPS}
    degraded = {g: t.get(f"{g}/degraded", 0) for g in GROUPS}
    return {"window_s": round(time.monotonic() - started, 1), "load_1min_before": load_before,
            "load_1min_peak": load_peak, "hogs": len(stress.hogs),
            "loop_blocks_s": stress.blocks,
            "checks": d["checks"], "false_failures": failures, "degraded": degraded,
            "recovery_attempts": d["attempts"], "pid_changes": restarted,
            "inconclusive_checks": _inconclusive(base) - inc_before,
            "transitions": t,
            "failure_reasons": _reasons(base, t) if sum(failures.values()) else []}


def _reasons(base: str, transitions: dict[str, int]) -> list[dict[str, Any]]:
    """What the daemon said when it declared a failure (for the services' groups that had
    one; the first few services of each)."""
    status, body = http_get(base + "/api/monitoring/services", 60)
    if status != 200 or not isinstance(body, dict):
        return []
    groups = {k.split("/")[0] for k, v in transitions.items()
              if v and k.split("/", 1)[1] in FAILED_STATES}
    out = []
    for name in sorted(body["services"]):
        if _group(name) not in groups:
            continue
        st, svc = http_get(f"{base}/api/monitoring/services/{name}", 30)
        if st != 200 or not isinstance(svc, dict):
            continue
        bad = [tr for tr in svc.get("transitions", []) if tr["to"] in FAILED_STATES]
        if bad:
            out.append({"service": name, "transitions": bad[:3]})
        if len(out) >= 8:
            break
    return out


def run(reaper: Reaper, workdir: Path, checks: Checks, services: int, endpoints: int,
        endpoint_interval_s: float, window_s: float,
        conditions: tuple[str, ...] = CONDITIONS) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = reaper.spawn([sys.executable, str(SERVER), "--port", str(port), "--paths",
                           str(endpoints), "--tag", str(workdir)], workdir / "scale_server.log")
    peer = Soulfra(reaper, workdir)
    targets = [Target(f"{g}{i}", free_port(), workdir / f"{g}{i}.pid")
               for g in ("plain", "slow") for i in range(services)]
    slow_ms = round(SLOW_FRACTION * checks.timeout_s * 1000)
    config: dict[str, object] = {}
    for t in targets:
        entry = peer.target_entry(t, checks)
        if t.name.startswith("slow"):
            entry["healthCheckPath"] = f"/slow?ms={slow_ms}"
        config[t.name] = entry
    for i in range(endpoints):
        config[f"endpoints{i}"] = {
            "baseUrl": f"http://127.0.0.1:{port}", "healthCheckPath": f"/p{i}",
            "interval": endpoint_interval_s * 1000, "timeoutThreshold": checks.timeout_s * 1000,
            "errorThreshold": 1, "autoRestart": False}
    out: dict[str, Any] = {"services_per_group": services, "endpoints": endpoints,
                           "endpoint_interval_s": endpoint_interval_s,
                           "interval_s": checks.interval_s, "timeout_s": checks.timeout_s,
                           "slow_answer_ms": slow_ms, "error_threshold": 1,
                           "cpus": psutil.cpu_count(), "conditions": {}}
    try:
        wait_for(lambda: http_get(f"http://127.0.0.1:{port}/__stats", 1.0)[0] == 200, 20, 0.1,
                 "scale server")
        # No overhead budget (as in the scale scenarios): with it, the daemon stretched every
        # interval ~6x under this load, and far fewer checks would be put to the test.
        peer.run_services(config, {"SOULFRA_FAULT_INJECTION": "true",
                                   "MONITORING_OVERHEAD_LIMIT": "400"})
        wait_for(lambda: peer.down_services() == 0, 120 + endpoints / 50, 0.5,
                 "every service healthy")
        time.sleep(max(2 * endpoint_interval_s, 2 * checks.interval_s))
        for condition in conditions:
            print(f"  {condition} (load {os.getloadavg()[0]:.2f})", flush=True)
            out["conditions"][condition] = _condition(peer, reaper, workdir, condition,
                                                      targets, window_s)
    finally:
        peer.stop()
        reaper.stop(server)
    c = out["conditions"].values()
    out["total"] = {
        "false_failures": sum(sum(r["false_failures"].values()) for r in c),
        "false_restarts": sum(len(r["pid_changes"]) for r in c),
        "recovery_attempts": sum(sum(r["recovery_attempts"].values()) for r in c),
        "checks": sum(sum(r["checks"].values()) for r in c)}
    return out
