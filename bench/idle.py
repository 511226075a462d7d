"""Scenario 4: what a peer costs while nothing is wrong.

The peer starts N demo services and checks each over HTTP at the interval; once all answer and
a settling time has passed, its own processes (its tree minus the services) are sampled over a
window: CPU seconds per minute and RSS at the end.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.peers import Checks, Peer, Target
from bench.procs import Reaper, cpu_by_pid, cpu_delta, free_port, http_get, rss_bytes, wait_for


def run(peer_cls: type[Peer], reaper: Reaper, workdir: Path, services: int, checks: Checks,
        window_s: float) -> dict[str, Any]:
    peer = peer_cls(reaper, workdir)
    targets = [Target(f"svc{i}", free_port(), workdir / f"svc{i}.pid") for i in range(services)]
    try:
        peer.supervise(targets, checks)
        wait_for(lambda: all(http_get(t.url, 1.0)[0] == 200 for t in targets),
                 60 + 2 * services, 0.5, f"{services} services started by {peer.name}")
        # Start-up work is not idle cost; supervisord has no checks, so no interval to wait.
        time.sleep(max(checks.interval_s, 5.0) if peer.polls_http else 5.0)
        before, t0 = cpu_by_pid(peer.own_processes()), time.monotonic()
        time.sleep(window_s)
        procs = peer.own_processes()  # short-lived helpers may have come and gone
        cpu, t1 = cpu_delta(before, cpu_by_pid(procs)), time.monotonic()
        rss = rss_bytes(procs)
    finally:
        peer.stop()
    elapsed = t1 - t0
    return {"services": services, "interval_s": checks.interval_s, "window_s": elapsed,
            "cpu_s_per_min": cpu / elapsed * 60, "cpu_percent": cpu / elapsed * 100,
            "rss_mb": rss / 2**20, "processes": len(procs)}
