"""The daemon's own silent failures become errors of level system, with their stack, and
none of them stops it: a blocked loop, a task nobody awaited, a full disk under the store."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import free_port, listening, services_file, wait_for

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")

FAULTS = {"SOULFRA_FAULT_INJECTION": "true", "SOULFRA_LOOP_LAG_THRESHOLD_MS": "500"}



def _svc(port: int) -> dict[str, Any]:
    return {"port": port, "checks": [{"type": "tcp"}], "interval": 200, "errorThreshold": 1,
            "ladder": ["retry"]}


def _system_errors(d: Any, category: str) -> list[dict[str, Any]]:
    _, body = d.get(f"/api/monitoring/errors?level=system&category={category}&since=1h")
    return list(body["errors"])


def test_a_blocked_event_loop_is_an_error_with_the_blocking_stack(daemon_factory) -> None:
    port = free_port()
    listener = listening(port)
    try:
        d = daemon_factory(services_file({"svc": _svc(port)}), env=FAULTS)
        wait_for(lambda: d.state("svc") == "healthy", what="first check")
        status, _ = d.post("/api/monitoring/debug/faults", {"fault": "block_loop", "ms": 1500})
        assert status == 200
        err = wait_for(lambda: _system_errors(d, "EVENT_LOOP_BLOCKED"), what="the block")[0]
        assert err["level"] == "system" and err["service"] == "soulfra-supervisor"
        full = d.get(f"/api/monitoring/errors/{err['id']}")[1]
        # the watchdog took the loop thread's stack while it was blocked: it names the culprit
        assert "_blocking_work" in full["context"]["stack"]
        assert full["context"]["lagMs"] >= 500
        lag = d.get("/api/monitoring/status")[1]["selfwatch"]["eventLoop"]
        assert lag["maxLagMs"] >= 1000 and lag["blocks"] >= 1
        # and the checks go on
        before = d.get("/api/monitoring/status")[1]["checks"]["total"]
        wait_for(lambda: d.get("/api/monitoring/status")[1]["checks"]["total"] > before + 3,
                 what="checks running after the block")
    finally:
        listener.close()


def test_unhandled_task_and_callback_exceptions_are_errors(daemon_factory) -> None:
    d = daemon_factory(services_file({"svc": _svc(free_port())}), env=FAULTS)
    for fault in ("task_exception", "callback_exception"):
        assert d.post("/api/monitoring/debug/faults", {"fault": fault})[0] == 200
    errs = wait_for(lambda: len(e := _system_errors(d, "INTERNAL_ERROR")) >= 2 and e,
                    what="both failures stored")
    contexts = [d.get(f"/api/monitoring/errors/{e['id']}")[1]["context"] for e in errs]
    stacks = [c["stack"] for c in contexts]
    assert any("_failing_task" in s for s in stacks)
    assert any("_failing_callback" in s for s in stacks)
    # where it was raised, as for an error the daemon logged itself
    assert {c["function"] for c in contexts} >= {"_failing_task", "_failing_callback"}
    assert all(c["module"] == "supervisor.api.routes.faults" and c["line"] > 0
               for c in contexts if c["function"].startswith("_failing"))
    assert all(e["type"] == "unhandled_exception" for e in errs)
    assert d.get("/api/monitoring/health")[0] in (200, 503)  # still answering


@pytest.mark.timeout(120)
def test_store_on_a_full_filesystem_keeps_checking_and_reports_it(daemon_factory, small_tmpfs,
                                                                  tmp_path: Path) -> None:
    port = free_port()
    listener = listening(port)
    d = daemon_factory(services_file({"svc": _svc(port)}), start=False)
    d.data_dir = small_tmpfs / "data"
    d.start()
    filler = small_tmpfs / "filler"
    try:
        wait_for(lambda: d.state("svc") == "healthy", what="first check")
        # unbuffered: a buffered tail would fail again in close(), outside the try
        with open(filler, "wb", buffering=0) as f:  # fill the file system to the last block
            try:
                while True:
                    f.write(b"\0" * 16384)
                    f.flush()
            except OSError:
                pass
        listener.close()  # the service breaks while the store cannot write
        wait_for(lambda: d.state("svc") in ("failing", "recovering", "gave_up"), timeout=20,
                 what="the failure noticed with a full disk")

        def store_down() -> dict[str, Any] | None:
            st = d.get("/api/monitoring/status")[1]
            return st if not st["store"]["writable"] else None

        st = wait_for(store_down, timeout=30, what="the store reporting it cannot write")
        assert "full" in st["store"]["lastError"].lower()
        reported = [e for e in st["selfwatch"]["recentErrors"]
                    if e["type"] == "store_write_failed"]
        assert reported and reported[0]["level"] == "system"
        assert reported[0]["category"] == "DISK_EXHAUSTED" and reported[0]["stack"]
        before = d.service("svc")["consecutiveFailures"]
        wait_for(lambda: d.service("svc")["consecutiveFailures"] > before + 2,
                 what="checks still running on a full disk")

        filler.unlink()  # space again: what was queued lands, nothing is lost
        wait_for(lambda: d.get("/api/monitoring/status")[1]["store"]["writable"], timeout=30,
                 what="the store writing again")
        errs = wait_for(lambda: _system_errors(d, "DISK_EXHAUSTED"), timeout=20,
                        what="the store failure stored once space is back")
        assert errs[0]["type"] == "store_write_failed"
        assert any(e["service"] == "svc" for e in d.errors())
    finally:
        filler.unlink(missing_ok=True)
        d.stop()


@pytest.mark.timeout(90)
def test_a_scheduler_that_stops_making_progress_is_reported(daemon_factory) -> None:
    port = free_port()
    listener = listening(port)  # healthy: no recovery runs checks behind the scheduler's back
    try:
        svc = {**_svc(port), "checks": [{"type": "tcp", "timeout": 300}]}
        d = daemon_factory(services_file({"svc": svc}),
                           env={**FAULTS, "SOULFRA_SCHEDULER_STALL_GRACE_S": "1"})
        wait_for(lambda: d.get("/api/monitoring/status")[1]["checks"]["total"] >= 2,
                 what="checks running")
        assert d.post("/api/monitoring/debug/faults", {"fault": "stall_scheduler"})[0] == 200
        # limit: 4 x 0.2 s (slowest probing) + 0.3 s timeout + 1 s overrun grace + 1 s
        err = wait_for(lambda: _system_errors(d, "SCHEDULER_STALLED"), timeout=40,
                       what="the stall reported")[0]
        assert err["severity"] == "critical" and "no progress" in err["message"]
        assert d.get("/api/monitoring/status")[1]["selfwatch"]["schedulerStalled"] is True
    finally:
        listener.close()


def _fill(path: Path) -> None:
    """Fill the file system under `path` to the last block (unbuffered: a buffered tail would
    fail again in close())."""
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 16384)
        except OSError:
            pass


@pytest.mark.timeout(120)
def test_a_full_disk_loses_no_pause_and_floods_no_log(daemon_factory, small_tmpfs) -> None:
    port = free_port()
    d = daemon_factory(services_file({"svc": _svc(port)}), start=False)
    d.data_dir = small_tmpfs / "data"
    d.start()
    filler = small_tmpfs / "filler"
    try:
        wait_for(lambda: d.state("svc") in ("failing", "recovering", "gave_up"),
                 what="svc failing (nothing listens)")
        _fill(filler)
        # failing checks go on writing errors into a full disk for a while
        wait_for(lambda: not d.get("/api/monitoring/status")[1]["store"]["writable"],
                 timeout=30, what="the store reporting it cannot write")
        status, _ = d.post("/api/monitoring/services/svc/pause", {"reason": "disk work"})
        assert status == 200
        time.sleep(10)
        log = d.log()
        assert log.count("Traceback") <= 10, log.count("Traceback")
        filler.unlink()
        wait_for(lambda: d.get("/api/monitoring/status")[1]["store"]["writable"], timeout=30,
                 what="the store writing again")
        d.stop()
        d.start()  # the pause was queued and written once space was back: it holds
        assert d.state("svc") == "maintenance"
        assert d.service("svc")["recovery"]["paused"]["reason"] == "disk work"
    finally:
        filler.unlink(missing_ok=True)
        d.stop()
