"""The fault zoo (supervisor/selftest/catalogue) over repetitions, and beside Monit.

Two parts, in the same run:

1. The catalogue as `soulfra-supervisor selftest` runs it (supervisor.selftest.runner: one
   daemon, the catalogue's own services.json entries, faults in parallel, measured from the
   daemon's API): per fault detected (as what), healed by which strategy, time to detect,
   time to healthy, harmful actions, the row's verdict.
2. Side by side: every fault whose catalogue entry gives a Monit equivalent (`Setup.monit`)
   is injected again against soulfra-supervisor and against Monit, one fault at a time, each
   peer on a fresh set of the same services, measured the same way from outside both:
   seconds from the injection until the target answers GET /health with 200 again, after it
   was seen failing (or its pid changed, for faults such as a leak that keep answering), and
   the fault's own "healed" condition holds. Both act on the first failed check (soulfra's
   errorThreshold is set to 1 here: Monit's `if failed ... then restart` acts at once); the
   other services' pids are watched for restarts that the fault did not call for.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from bench.peers import START_TIMEOUT_S, Monit, Peer, Soulfra
from bench.procs import Reaper, wait_for
from supervisor.selftest.catalogue import ALL
from supervisor.selftest.catalogue.postgres import accepts
from supervisor.selftest.faults import Fault, Setup
from supervisor.selftest.lab import Lab, read_pid
from supervisor.selftest.runner import Runner

POLL_S = 0.02
SETTLE_S = 3.0  # after a fault healed: let a late, harmful restart show; Monit back to testing
# Each injection waits a random share of this (the peers' 1 s cycle and interval) first. Without
# it, the fixed SETTLE_S after a repair Monit made in one of its cycles put the next injection
# a few tens of ms before Monit's next cycle, every time: Monit then tested at once, while
# soulfra's per-service phases are random (disk-full: Monit 0.11-0.42 s, i.e. no wait for its
# cycle at all; a random phase costs half a cycle on average, to both peers alike).
PHASE_S = 1.0
PEERS = ("soulfra-supervisor", "monit")


# -- part 1: the catalogue, as selftest runs it -----------------------------------------------
def catalogue(workdir: Path, repeat: int, bound_s: float, parallel: int,
              faults: list[Fault]) -> dict[str, Any]:
    rows: dict[str, list[dict[str, Any]]] = {f.name: [] for f in faults}
    for i in range(repeat):
        runner = Runner(faults, bound_s=bound_s, parallel=parallel, root=workdir / f"zoo-{i}")
        try:
            for row in runner.run():
                rows[row.fault].append(row.to_dict())
        finally:
            runner.close()
        print(f"  catalogue round {i + 1}/{repeat}: "
              f"{sum(r[-1]['verdict'] == 'pass' for r in rows.values() if r)} passed", flush=True)
    return {f.name: summarize_rows(f, rows[f.name]) for f in faults}


def summarize_rows(fault: Fault, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ran = [r for r in rows if r["verdict"] != "skipped"]
    detect = [r["detect_s"] for r in ran if r["detect_s"] is not None]
    healthy = [r["healthy_s"] for r in ran if r["healthy_s"] is not None]
    out: dict[str, Any] = {
        "what": fault.what, "outcome": fault.outcome, "strategy": fault.strategy,
        "runs": len(ran), "passed": sum(r["verdict"] == "pass" for r in ran),
        "detected": len(detect), "healthy": len(healthy),
        "detected_as": _most(r["detected_as"] for r in ran),
        "healed_by": _most(r["healed_by"] for r in ran),
        "harmful": [h for r in ran for h in r["harmful"]],
        "actions": [r["actions"] for r in ran],
        "why": sorted({r["why"] for r in rows if r["why"]}), "rows": rows}
    if detect:
        out["detect_median_s"] = statistics.median(detect)
    if healthy:
        out["healthy_median_s"] = statistics.median(healthy)
        out["healthy_max_s"] = max(healthy)
    return out


def _most(values: Any) -> str:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else ""


# -- part 2: side by side with Monit ----------------------------------------------------------
def _health(entry: dict[str, Any]) -> int:
    """What the service looks like from outside: 200 (well), another status or 0 (not)."""
    if "port" in entry:
        url = f"http://127.0.0.1:{entry['port']}{entry.get('healthCheckPath', '/health')}"
        try:
            with urllib.request.urlopen(url, timeout=0.3) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (OSError, TimeoutError):
            return 0
    for check in entry.get("checks", []):
        if check.get("type") == "postgres":  # a new client served (a full server accepts TCP)
            return 200 if accepts(check["dsn"]) else 0
        address = check.get("url") or check.get("broker") or check.get("dsn")
        if address and urlsplit(address).port:
            try:  # a server (Redis, a broker, PostgreSQL): it accepts connections
                socket.create_connection(("127.0.0.1", urlsplit(address).port), 0.3).close()
                return 200
            except OSError:
                return 0
        if check.get("type") == "disk":  # a filesystem: under its limits
            st = os.statvfs(check["path"])
            used = 100 * (1 - st.f_bavail / st.f_blocks) if st.f_blocks else 0.0
            inodes = 100 * (1 - st.f_ffree / st.f_files) if st.f_files else 0.0
            ok = used <= check.get("maxUsagePercent", 100) and \
                inodes <= check.get("maxInodesPercent", 100)
            return 200 if ok else 0
    return 200


def _all_up(entries: list[dict[str, Any]]) -> bool:
    return all(_health(e) == 200 for e in entries)


def _pid(entry: dict[str, Any]) -> int | None:
    restart = entry.get("restart") or {}
    return read_pid(Path(restart["pidFile"])) if restart.get("pidFile") else None


def _stopped(pid: int | None) -> bool:
    try:
        return pid is not None and psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def trial(setup: Setup, bound_s: float) -> dict[str, Any]:
    """Inject the fault; seconds until the target is healthy again, measured outside."""
    entry = setup.services[setup.target]
    others = {n: _pid(e) for n, e in setup.services.items() if n not in setup.acted_ok()}
    old = _pid(entry)
    time.sleep(random.uniform(0, PHASE_S))  # a random point of the peer's cycle
    started = time.monotonic()
    setup.inject()
    seen_down = False
    healthy_s = None
    deadline = started + bound_s
    while time.monotonic() < deadline:
        if _stopped(old):  # probing a stopped process only fills its accept queue
            time.sleep(POLL_S)
            continue
        status = _health(entry)
        moved = _pid(entry) not in (old, None)
        seen_down = seen_down or status != 200
        if status == 200 and (seen_down or moved) and (setup.healed is None or setup.healed()):
            healthy_s = time.monotonic() - started
            break
        time.sleep(POLL_S)
    time.sleep(SETTLE_S)
    restarted = sorted(n for n, p in others.items() if p is not None and _pid(
        setup.services[n]) != p)
    harmful = [f"{n} restarted (not at fault)" for n in restarted]
    if setup.harm is not None:
        harmful += setup.harm()
    return {"healthy_s": healthy_s, "seen_down": seen_down, "harmful": harmful}


def _monit_block(block: str) -> str:
    # The bench's Monit start timeout (bench/peers.py LIMITS): Monit does not test a started
    # service's port before it has passed, so a long one hides the next fault.
    return re.sub(r"with timeout \d+ seconds\n", f"with timeout {START_TIMEOUT_S} seconds\n",
                  block, count=1)


def _start(peer: Peer, setups: dict[str, Setup]) -> None:
    if isinstance(peer, Monit):
        peer.watch_blocks([_monit_block(s.monit or "") for s in setups.values()], cycle_s=1)
        return
    assert isinstance(peer, Soulfra)
    services: dict[str, object] = {}
    for s in setups.values():
        for name, entry in s.services.items():
            services[name] = {**entry, "errorThreshold": 1, "successThreshold": 1}
    peer.run_services(services, {})


def side_by_side(reaper: Reaper, workdir: Path, peer_name: str, faults: list[Fault],
                 repeat: int, bound_s: float) -> dict[str, Any]:
    peer_cls: type[Peer] = Monit if peer_name == "monit" else Soulfra
    samples: dict[str, list[dict[str, Any]]] = {}
    not_started: dict[str, int] = {}  # faults whose services this peer never brought up
    for i in range(repeat):
        root = workdir / f"{peer_name}-{i}"
        lab = Lab(root / "lab", "")
        peer = peer_cls(reaper, root)
        unhealed: list[str] = []
        try:
            # the faults the catalogue gives a Monit equivalent; the others' setups are dropped
            setups = {n: s for n, s in ((f.name, f.setup(lab)) for f in faults
                                        if f.outcome == "heal") if s.monit}
            _start(peer, setups)
            entries = [e for s in setups.values() for e in s.services.values()]
            try:
                wait_for(partial(_all_up, entries), 60, 0.2, f"every service up, {peer_name}")
            except TimeoutError:  # e.g. a Monit block without a start program: those go
                for name in [n for n, s in setups.items()
                             if not _all_up(list(s.services.values()))]:
                    del setups[name]
                    not_started.setdefault(name, 0)
                    not_started[name] += 1
                entries = [e for s in setups.values() for e in s.services.values()]
            time.sleep(START_TIMEOUT_S + 1)  # Monit tests ports only after the start timeout
            for name, setup in setups.items():
                sample = trial(setup, bound_s)
                samples.setdefault(name, []).append(sample)
                if sample["healthy_s"] is None:
                    unhealed.append(name)
                try:
                    wait_for(partial(_all_up, entries), 30, 0.2, "every service up again")
                except TimeoutError:  # a fault this peer did not repair: the next one anyway
                    print(f"  {peer_name}: not every service up again after {name}", flush=True)
        finally:
            peer.stop()
            lab.close()
            if unhealed:  # the peer's logs are all there is to learn why
                print(f"  {peer_name}: kept {root} ({', '.join(unhealed)} not healed)",
                      flush=True)
            else:
                threading.Thread(target=shutil.rmtree, args=(root, True), daemon=True).start()
        print(f"  {peer_name} round {i + 1}/{repeat} done", flush=True)
    out = {name: _sample_stats(s, bound_s) for name, s in samples.items()}
    for name, times in not_started.items():
        out.setdefault(name, {"runs": 0, "healed": 0, "harmful": [], "bound_s": bound_s,
                              "samples_s": []})["not_started"] = times
    return out


def _sample_stats(samples: list[dict[str, Any]], bound_s: float) -> dict[str, Any]:
    done = [s["healthy_s"] for s in samples if s["healthy_s"] is not None]
    out: dict[str, Any] = {"samples_s": [s["healthy_s"] for s in samples], "bound_s": bound_s,
                           "healed": len(done), "runs": len(samples),
                           "harmful": [h for s in samples for h in s["harmful"]]}
    if done:
        out.update(median_s=statistics.median(done), min_s=min(done), max_s=max(done))
    return out


def run(reaper: Reaper, workdir: Path, peers: list[str], repeat: int, bound_s: float,
        parallel: int, names: list[str] | None = None) -> dict[str, Any]:
    """Every fault of the catalogue (or those named), both parts; Monit where it has one."""
    faults = [f for f in ALL if not names or f.name in names]
    runnable = [f for f in faults if f.missing() is None]
    out: dict[str, Any] = {"faults": [f.name for f in faults], "repeat": repeat,
                           "bound_s": bound_s, "parallel": parallel, "phase_s": PHASE_S,
                           "skipped": {f.name: f.missing() for f in faults if f.missing()}}
    if "soulfra-supervisor" in peers:
        out["catalogue"] = catalogue(workdir / "catalogue", repeat, bound_s, parallel, faults)
    out["side_by_side"], out["errors"] = {}, {}
    for p in PEERS:
        if p in peers:
            try:
                out["side_by_side"][p] = side_by_side(reaper, workdir / p, p, runnable, repeat,
                                                      bound_s)
            except Exception as exc:  # the catalogue's numbers stay; the page says what broke
                out["errors"][p] = repr(exc)
                print(f"  side by side, {p}: {exc!r}", flush=True)
    out["monit_equivalent"] = sorted({f for r in out["side_by_side"].values() for f in r})
    return out
