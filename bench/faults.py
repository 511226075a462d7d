"""Scenarios 1-3: crash (SIGKILL), hang (SIGSTOP), errors (HTTP 500) of a supervised service.

Each repetition waits until the service answers, lets a random part of an interval pass (so the
fault lands anywhere in the peer's cycle), injects the fault, and times until /health answers
200 again *from a new process* (the pid in the answer changed), polling every 20 ms.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from pathlib import Path
from typing import Any

import psutil

from bench.peers import Checks, Peer, Target
from bench.procs import Reaper, free_port, http_get, http_post, wait_for

KINDS = ("crash", "hang", "errors")
POLL_S = 0.02
SETTLE_S = 4.0


def _health_pid(target: Target) -> int | None:
    status, body = http_get(target.url, timeout=0.3)
    if status == 200 and isinstance(body, dict):
        return int(body["pid"])
    return None


def _stopped(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_STOPPED
    except psutil.Error:
        return False


def _inject(kind: str, target: Target, pid: int) -> None:
    if kind == "crash":
        os.kill(pid, signal.SIGKILL)
    elif kind == "hang":
        os.kill(pid, signal.SIGSTOP)
    else:
        base = target.url.rsplit("/", 1)[0]
        if http_post(base + "/fail") != 200:
            raise RuntimeError("the target did not accept POST /fail")


def _undo(kind: str, target: Target, pid: int) -> None:
    """After a peer did not repair the fault: put the old process back as it was."""
    if kind == "hang":
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    elif kind == "errors":
        base = target.url.rsplit("/", 1)[0]
        try:
            http_post(base + "/heal")
        except OSError:
            pass


def one_trial(kind: str, target: Target, bound_s: float) -> float | None:
    pid = wait_for(lambda: _health_pid(target), 60, 0.1, f"{target.name} healthy")
    started = time.monotonic()
    _inject(kind, target, pid)
    deadline = started + bound_s
    while kind == "hang" and _stopped(pid) and time.monotonic() < deadline:
        # While the old process is stopped, probing it would only fill its accept queue
        # (and so disturb the peer's own check): wait until it is continued or gone.
        time.sleep(POLL_S)
    while time.monotonic() < deadline:
        new = _health_pid(target)
        if new is not None and new != pid:
            return time.monotonic() - started
        time.sleep(POLL_S)
    _undo(kind, target, pid)
    return None


def run(kind: str, peer_cls: type[Peer], reaper: Reaper, workdir: Path, checks: Checks,
        repeat: int, bound_s: float) -> dict[str, Any]:
    """Repeat one fault against one peer; times in seconds, None for 'not recovered'."""
    peer = peer_cls(reaper, workdir)
    detects = kind == "crash" or peer.polls_http
    trials = repeat if detects else 1  # one trial shows it; more would only cost time
    target = Target(f"target-{kind}", free_port(), workdir / f"target-{kind}.pid")
    samples: list[float | None] = []
    try:
        peer.supervise([target], checks)
        wait_for(lambda: _health_pid(target), 60, 0.1, f"{target.name} started by {peer.name}")
        for _ in range(trials):
            # Settle (every peer is back to plain monitoring: Monit skips a started service's
            # port test for its start timeout), then a random phase of the peer's cycle.
            time.sleep(SETTLE_S + checks.interval_s + random.uniform(0, checks.interval_s))
            samples.append(one_trial(kind, target, bound_s))
            if samples[-1] is None and detects:
                wait_for(lambda: _health_pid(target), 30, 0.1, f"{target.name} healthy again")
    finally:
        peer.stop()
    return summarize(samples, detects, bound_s)


def summarize(samples: list[float | None], detects: bool, bound_s: float) -> dict[str, Any]:
    done = [s for s in samples if s is not None]
    out: dict[str, Any] = {"samples_s": samples, "bound_s": bound_s, "detects": detects,
                           "not_recovered": len(samples) - len(done)}
    if done:
        out.update(min_s=min(done), median_s=statistics.median(done), max_s=max(done))
    return out
