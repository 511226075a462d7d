"""Runs faults for real against one throwaway daemon and measures each from the daemon's API.

One temporary folder holds everything (services.json, the daemon's data, each fault's files);
one daemon watches every fault's services; the faults are injected in parallel (each on its
own services, so they do not disturb each other's verdicts) and each is watched until it is
healthy again or its bound passes. `close()` — reached through try/finally, also on SIGINT and
SIGTERM (the CLI turns SIGTERM into an exception) — stops the observers, the daemon (which
stops the services it started), every helper process by pid, and removes the folder.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.cli.remote import Unreachable
from supervisor.selftest import measure
from supervisor.selftest.daemon import Daemon
from supervisor.selftest.faults import Fault, Setup
from supervisor.selftest.lab import Lab, free_port
from supervisor.selftest.measure import Row

POLL_S = 0.2  # each observer asks the daemon this often; its CPU counts in the daemon's
SETTLE_S = 1.5  # after healthy: time for a late, harmful action to show
ALERT_WATCH_S = 4.0  # an alert-only fault is watched this long after detection


class Runner:
    def __init__(self, faults: list[Fault], bound_s: float = 45.0, parallel: int = 6,
                 progress: Callable[[Row], None] | None = None,
                 root: Path | None = None) -> None:
        self.faults = faults
        self.bound_s = bound_s
        self.parallel = max(1, parallel)
        self.progress = progress or (lambda row: None)
        self.root = root or Path(tempfile.mkdtemp(prefix="soulfra-selftest-"))
        self.daemon = Daemon(self.root, free_port())
        self.lab = Lab(self.root / "lab", self.daemon.url)
        self.stopping = threading.Event()
        self.setups: dict[str, Setup] = {}
        self.started = time.time()  # when the daemon was started

    # -- the whole run -----------------------------------------------------------------
    def run(self) -> list[Row]:
        rows: dict[str, Row] = {}
        services: dict[str, dict[str, Any]] = {}
        for fault in self.faults:
            why = fault.missing()
            if why:
                rows[fault.name] = Row(fault.name, verdict="skipped", why=why)
                continue
            try:
                setup = fault.setup(self.lab)
            except Exception as exc:  # a setup that cannot be made here is this row's failure
                rows[fault.name] = Row(fault.name, why=f"setup failed: {exc}")
                continue
            self.setups[fault.name] = setup
            services.update(setup.services)
        if self.setups:
            self.started = time.time()
            # Product defaults, except: as many recoveries at once as faults are injected at
            # once (the default 4 would queue one fault's repair behind another's).
            self.daemon.start({"errorMonitoring": {"services": services, "recovery": {
                "maxConcurrent": max(4, self.parallel)}}})
            degraded_ok = {n for s in self.setups.values() if s.present_at_start
                           for n in s.services}
            ready = self._wait_healthy(list(services), degraded_ok, 60.0)
            self._observe_all([f for f in self.faults if f.name in self.setups], ready, rows)
        return [rows[f.name] for f in self.faults if f.name in rows]

    def close(self, keep: bool = False) -> None:
        """Stop everything; remove the folder unless `keep` (to read the daemon's log)."""
        self.stopping.set()
        try:
            self.daemon.stop()
        finally:
            self.lab.close()
            if not keep:
                shutil.rmtree(self.root, ignore_errors=True)

    def _wait_healthy(self, names: list[str], degraded_ok: set[str],
                      timeout: float) -> set[str]:
        """The services that became ready (healthy; or degraded, where that is the fault)."""
        def ready(n: str) -> bool:
            return states.get(n) == "healthy" or (
                n in degraded_ok and states.get(n) == "degraded")
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                states = self.daemon.states()
            except Unreachable:
                states = {}
            if all(ready(n) for n in names):
                break
            time.sleep(POLL_S)
        return {n for n in names if ready(n)}

    def _observe_all(self, faults: list[Fault], ready: set[str], rows: dict[str, Row]) -> None:
        slots = threading.Semaphore(self.parallel)
        lock = threading.Lock()

        def one(fault: Fault) -> None:
            with slots:
                if self.stopping.is_set():
                    return
                setup = self.setups[fault.name]
                not_ready = sorted(set(setup.services) - ready)
                strangers = [why for e in setup.services.values()
                             if (why := self.lab.impostor(e))]
                if not_ready:
                    row = Row(fault.name, why=f"never healthy before the fault: {not_ready}")
                elif strangers:
                    row = Row(fault.name, why="; ".join(strangers))
                else:
                    try:
                        row = self._observe(fault, setup)
                    except Exception as exc:  # the daemon went away: this row's failure
                        row = Row(fault.name, why=f"watching it failed: {exc}")
                with lock:
                    rows[fault.name] = row
                self.progress(row)

        threads = [threading.Thread(target=one, args=(f,), name=f"fault-{f.name}", daemon=True)
                   for f in faults]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():  # join with a timeout: SIGINT reaches the main thread
                t.join(0.2)

    # -- one fault ---------------------------------------------------------------------
    def _observe(self, fault: Fault, setup: Setup) -> Row:
        row = Row(fault.name)
        since = self.started if setup.present_at_start else time.time()
        try:
            setup.inject()
        except Exception as exc:
            row.why = f"injecting the fault failed: {exc}"
            return row
        detected: float | None = None
        healthy_at: float | None = None
        last_inject, undone, gave_up = since, False, False
        target = setup.target
        bound = fault.bound_s or self.bound_s
        began = time.time()  # the bound counts from here (`since` may be the daemon's start)
        while time.time() - began < bound and not self.stopping.is_set():
            svc = self.daemon.service(target)
            if detected is None:
                found = measure.detection(svc, since, ("degraded",) if setup.present_at_start
                                          else measure.DOWN)
                if found:
                    detected = found[0]
                    row.detect_s = round(detected - since, 2)
                    row.detected_as = found[1] if setup.present_at_start else \
                        measure.detected_as(svc, since)
            if detected is not None:
                breaker_open = bool(svc["recovery"]["breaker"]["open"])
                gave_up = gave_up or breaker_open
                if fault.outcome == "flap" and not gave_up and \
                        measure.healthy_after(svc, last_inject):
                    setup.inject()  # repaired: fail again, until the breaker opens
                    last_inject = time.time()
                elif setup.undo is not None and not undone and (
                        fault.outcome != "flap" or breaker_open):
                    setup.undo()
                    undone = True
                elif fault.outcome == "alert" and time.time() - detected > ALERT_WATCH_S:
                    break  # shown; what matters now is that nothing was done about it
                elif self._healed(fault, setup, svc, detected, gave_up):
                    healthy_at = time.time()
                    break
            time.sleep(POLL_S)
        if healthy_at is not None:
            row.healthy_s = round(healthy_at - since, 2)
            time.sleep(SETTLE_S)
        self._account(fault, setup, since, row)
        row.why = "; ".join(verdict_problems(fault, row, detected is not None,
                                             healthy_at is not None, gave_up))
        row.verdict = "fail" if row.why else "pass"
        return row

    def _healed(self, fault: Fault, setup: Setup, svc: dict[str, Any], detected: float,
                gave_up: bool) -> bool:
        if not measure.healthy_after(svc, detected):
            return False
        if fault.outcome == "flap" and (not gave_up or svc["recovery"]["breaker"]["open"]):
            return False
        states = self.daemon.states()
        if any(states.get(n) != "healthy" for n in setup.services):
            return False
        return setup.healed is None or setup.healed()

    def _account(self, fault: Fault, setup: Setup, since: float, row: Row) -> None:
        """Who was acted on, by what: read from every one of the fault's services."""
        by_service = {n: measure.recoveries(self.daemon.service(n), since)
                      for n in setup.services}
        target = self.daemon.service(setup.target)
        if not row.detected_as:
            row.detected_as = measure.detected_as(target, since)
        row.healed_by = measure.healed_by(by_service[setup.healer or setup.target])
        allowed = setup.acted_ok()
        row.actions = len(measure.acting_attempts(
            [r for n in allowed for r in by_service.get(n, [])]))
        row.harmful = measure.harmful(by_service, allowed)
        if setup.harm is not None:
            row.harmful += setup.harm()
        row.not_held = sorted(n for n in setup.held if not measure.waited(by_service[n]))


def verdict_problems(fault: Fault, row: Row, detected: bool, healthy: bool,
                     gave_up: bool) -> list[str]:
    """Why a row fails (nothing: it passes). Pure, so the rules are tested on their own."""
    out = []
    if not detected:
        out.append("not detected")
    elif fault.detect and not measure.matches(row.detected_as, fault.detect):
        out.append(f"detected as {row.detected_as or '?'}, expected {'/'.join(fault.detect)}")
    if detected and not healthy and fault.outcome != "alert":
        out.append("not healthy again within the bound")
    if fault.outcome == "flap" and detected and not gave_up:
        out.append("the breaker never opened")
    if detected and fault.strategy and row.healed_by != fault.strategy and \
            fault.outcome != "alert":
        out.append(f"healed by {row.healed_by or 'nothing'}, expected {fault.strategy}")
    if fault.outcome in ("degrade", "alert") and row.actions:
        out.append(f"acted on ({row.actions} actions) where it should not")
    if fault.max_actions is not None and row.actions > fault.max_actions:
        out.append(f"{row.actions} actions, at most {fault.max_actions} expected")
    if row.harmful:
        out.append("harmful: " + ", ".join(row.harmful))
    if row.not_held:
        out.append("not seen waiting for its dependency: " + ", ".join(row.not_held))
    return out
