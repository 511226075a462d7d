"""Scenarios 5-6: N HTTP paths on one server, checked at one interval; then 1 % of them hang.

Measured at the server (bench/scale_server.py records the arrival time of every request):
achieved checks per second, and the lateness of each check of a healthy path against its
interval (gap between two consecutive requests for the path, minus the interval). A path that
was not asked again by the end of the window counts with the lower bound it has already reached
("censored"), so a peer whose cycle outgrows the window is not flattered by missing data.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.peers import Checks, Peer
from bench.procs import (
    Reaper,
    cpu_by_pid,
    cpu_delta,
    free_port,
    http_get,
    http_post,
    rss_bytes,
    wait_for,
)

SERVER = Path(__file__).resolve().parent / "scale_server.py"
HANG_EVERY = 100  # 1 % of the paths


def _stats(base: str) -> dict[str, Any]:
    status, body = http_get(base + "/__stats", timeout=30)
    if status != 200:
        raise RuntimeError(f"scale server stats: HTTP {status}")
    return body  # type: ignore[no-any-return]


def lateness(idx: list[int], t: list[float], paths: int, hang_every: int, interval_s: float,
             start: float, end: float) -> dict[str, Any]:
    """Lateness (s) of the healthy paths' checks within [start, end]."""
    hits: dict[int, list[float]] = defaultdict(list)
    for i, ts in zip(idx, t, strict=True):
        if start <= ts <= end:
            hits[i].append(ts)
    observed: list[float] = []
    censored: list[float] = []
    for i in range(paths):
        if hang_every and i % hang_every == 0:
            continue
        times = sorted(hits.get(i, []))
        observed += [b - a - interval_s for a, b in zip(times, times[1:], strict=False)]
        last = times[-1] if times else start
        waited = end - last - interval_s
        if waited > 0.5:  # overdue at the end of the window: at least this late
            censored.append(waited)
    values = sorted([(v, False) for v in observed] + [(v, True) for v in censored])
    out: dict[str, Any] = {"gaps": len(observed), "censored": len(censored)}
    if values:
        k = min(len(values) - 1, round(0.99 * (len(values) - 1)))
        out.update(median_s=statistics.median(v for v, _ in values), p99_s=values[k][0],
                   max_s=values[-1][0], p99_is_lower_bound=values[k][1])
    return out


def _window(peer: Peer, base: str, paths: int, hang_every: int, checks: Checks,
            window_s: float) -> dict[str, Any]:
    http_post(base + "/__reset")
    before = cpu_by_pid(peer.own_processes())
    start = time.monotonic()
    time.sleep(window_s)
    procs = peer.own_processes()
    cpu = cpu_delta(before, cpu_by_pid(procs))
    rss = rss_bytes(procs)
    end = time.monotonic()
    down = getattr(peer, "down_services", None)
    stats = _stats(base)
    n = sum(1 for ts in stats["t"] if start <= ts <= end)
    out = {"paths": paths, "interval_s": checks.interval_s, "timeout_s": checks.timeout_s,
           "hang_every": hang_every, "window_s": end - start,
           "target_checks_per_s": paths / checks.interval_s,
           "checks_per_s": n / (end - start), "cpu_s": cpu,
           "cpu_percent": cpu / (end - start) * 100,
           "cpu_s_per_1000_checks": cpu / n * 1000 if n else None,
           "rss_mb": rss / 2**20,
           # services the peer held for down at the end (expected: the hung ones only)
           "down_at_end": down() if down else None}
    out["lateness"] = lateness(stats["idx"], stats["t"], paths, hang_every, checks.interval_s,
                               start, end)
    return out


def run(peer_cls: type[Peer], reaper: Reaper, workdir: Path, paths: int, checks: Checks,
        window_s: float, stalls: bool, plain: bool = True) -> dict[str, Any]:
    """Returns {"scale": ..., "stalls": ...} for one peer and one N."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = reaper.spawn([sys.executable, str(SERVER), "--port", str(port), "--paths",
                           str(paths), "--tag", str(workdir)], workdir / "scale_server.log")
    peer = peer_cls(reaper, workdir)
    out: dict[str, Any] = {}
    try:
        wait_for(lambda: http_get(base + "/__stats", 1.0)[0] == 200, 20, 0.1, "scale server")
        peer.watch_paths(port, paths, checks)
        wait_for(lambda: len(set(_stats(base)["idx"])) >= paths, 120 + 2 * checks.interval_s,
                 1.0, f"{peer.name} to check every path once")
        # Past the first round's start-up burst and the backlog it may leave.
        time.sleep(1.5 * checks.interval_s + 2)
        if plain:
            out["scale"] = _window(peer, base, paths, 0, checks, window_s)
        if stalls:
            http_post(base + f"/__hang?every={HANG_EVERY}")
            time.sleep(checks.interval_s + checks.timeout_s + 2)
            out["stalls"] = _window(peer, base, paths, HANG_EVERY, checks, window_s)
    finally:
        peer.stop()
        reaper.stop(server)
    return out
