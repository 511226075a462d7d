"""Live reload of services.json on a running daemon: edits, bad edits, atomic replacement,
half-written files, SIGHUP and the API; the services not touched by an edit keep running."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.support.helpers import DaemonProcess, services_file, wait_for

FAST_WATCH = {"SOULFRA_CONFIG_POLL_INTERVAL": "0.2"}


def _disk(tmp_path: Path, interval: int = 300, **extra: Any) -> dict[str, Any]:
    return {"checks": [{"type": "disk", "path": str(tmp_path)}], "interval": interval, **extra}


def _config(tmp_path: Path, names: dict[str, int]) -> dict[str, Any]:
    return services_file({n: _disk(tmp_path, i) for n, i in names.items()})


def _services(d: DaemonProcess) -> dict[str, Any]:
    return d.get("/api/monitoring/services")[1]["services"]


def _write_in_place(path: Path, data: Any) -> None:
    """What an editor without backup files does: truncate and write the same inode."""
    with open(path, "r+") as f:
        f.truncate(0)
        f.write(json.dumps(data, indent=2))


def _replace_atomically(path: Path, data: Any) -> None:
    """What vim, an orchestrator or `mv` does: write a new file, rename it over the old."""
    tmp = path.with_name(".services.json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def _config_errors(d: DaemonProcess) -> list[dict[str, Any]]:
    return [e for e in d.errors() if e["type"] == "config_invalid"]


def test_valid_edit_adds_removes_and_changes_without_touching_the_rest(daemon_factory,
                                                                        tmp_path):
    d = daemon_factory(_config(tmp_path, {"keep": 300, "change": 300, "drop": 300}),
                       env=FAST_WATCH)
    wait_for(lambda: all(s["status"] == "healthy" for s in _services(d).values()),
             what="all healthy")
    keep_since = d.service("keep")["since"]
    _write_in_place(d.config_path, _config(tmp_path, {"keep": 300, "change": 600, "new": 300}))
    wait_for(lambda: set(_services(d)) == {"keep", "change", "new"}, what="the edit applied")
    last = wait_for(lambda: d.get("/api/monitoring/reload")[1]["last"], what="last reload")
    assert last["ok"] and last["trigger"] == "file change"
    assert (last["added"], last["removed"], last["changed"], last["unchanged"]) == (
        ["new"], ["drop"], ["change"], ["keep"])
    wait_for(lambda: d.state("new") == "healthy", what="the added service checked")
    assert d.service("keep")["since"] == keep_since, "an untouched service keeps its state"
    assert "reloaded" in d.log()


def test_invalid_edit_is_rejected_and_the_old_config_keeps_running(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path, {"a": 300, "b": 300}), env=FAST_WATCH)
    wait_for(lambda: d.state("a") == "healthy", what="a healthy")
    bad = _config(tmp_path, {"a": 300, "b": 300})
    bad["errorMonitoring"]["services"]["b"]["errorThreshold"] = 0
    bad["errorMonitoring"]["services"]["c"] = _disk(tmp_path, intervall=5)
    _write_in_place(d.config_path, bad)
    err = wait_for(lambda: next(iter(_config_errors(d)), None), what="the rejection stored")
    assert "errorMonitoring.services.b.errorThreshold" in err["message"]
    assert err["severity"] == "high" and err["category"] == "VALIDATION_FAILED"
    # The API says the same, naming the fields, and nothing was applied.
    status, reply = d.post("/api/monitoring/reload")
    assert status == 422 and not reply["ok"]
    assert any(p.startswith("errorMonitoring.services.b.errorThreshold") for p in
               reply["problems"])
    assert any("intervall" in p for p in reply["problems"])
    assert set(_services(d)) == {"a", "b"} and d.state("a") == "healthy"
    assert len(_config_errors(d)) == 1, "the same bad file is one error, not one per look"
    assert d.proc is not None and d.proc.poll() is None
    # Fixing the file applies it and resolves the error.
    _write_in_place(d.config_path, _config(tmp_path, {"a": 300, "c": 300}))
    wait_for(lambda: set(_services(d)) == {"a", "c"}, what="the fixed file applied")
    wait_for(lambda: _config_errors(d)[0]["recovered"], what="the rejection resolved")


def test_atomic_replacement_is_noticed(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path, {"a": 300}), env=FAST_WATCH)
    wait_for(lambda: d.state("a") == "healthy", what="a healthy")
    inode = d.config_path.stat().st_ino
    _replace_atomically(d.config_path, _config(tmp_path, {"a": 300, "b": 300}))
    assert d.config_path.stat().st_ino != inode
    wait_for(lambda: "b" in _services(d), what="the replaced file applied")
    # Replaced again by the same content: nothing to apply, nothing reloaded.
    before = d.get("/api/monitoring/reload")[1]["last"]["at"]
    _replace_atomically(d.config_path, _config(tmp_path, {"a": 300, "b": 300}))
    time.sleep(1.5)
    assert d.get("/api/monitoring/reload")[1]["last"]["at"] == before


def test_half_written_file_is_never_applied(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path, {"a": 300}), env=FAST_WATCH)
    wait_for(lambda: d.state("a") == "healthy", what="a healthy")
    text = json.dumps(_config(tmp_path, {"a": 300, "b": 300, "c": 300}), indent=2)
    with open(d.config_path, "w") as f:  # a slow writer: half now, the rest later
        f.write(text[: len(text) // 2])
        f.flush()
        # SIGHUP now: the half file is read, rejected; the daemon runs on.
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: (d.get("/api/monitoring/reload")[1]["last"] or {}).get("ok") is False,
                 what="the half file rejected")
        last = d.get("/api/monitoring/reload")[1]["last"]
        assert last["trigger"] == "SIGHUP" and "line" in last["error"]
        time.sleep(1.0)
        assert set(_services(d)) == {"a"}, "nothing of a half-written file is applied"
        f.write(text[len(text) // 2:])
    wait_for(lambda: set(_services(d)) == {"a", "b", "c"}, what="the completed file applied")
    assert d.state("a") == "healthy"


def test_reload_endpoint_dry_run_and_unsafe_file(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path, {"a": 300}), env={"SOULFRA_CONFIG_POLL_INTERVAL": "0"})
    wait_for(lambda: d.state("a") == "healthy", what="a healthy")
    _write_in_place(d.config_path, _config(tmp_path, {"b": 300}))
    status, reply = d.post("/api/monitoring/reload", {"dryRun": True})
    assert status == 200 and reply["dryRun"] and reply["added"] == ["b"]
    assert set(_services(d)) == {"a"}, "a dry run applies nothing (and polling is off)"
    os.chmod(d.config_path, 0o666)
    status, reply = d.post("/api/monitoring/reload")
    assert status == 422 and "writable by every user" in reply["error"]
    assert set(_services(d)) == {"a"}
    os.chmod(d.config_path, 0o644)
    status, reply = d.post("/api/monitoring/reload")
    assert status == 200 and reply["added"] == ["b"] and reply["removed"] == ["a"]
    assert set(_services(d)) == {"b"}
