"""`soulfra-supervisor selftest` for real: it starts its own daemon and throwaway services,
injects real faults, prints the table and exits 0 only when every row passes; interrupted,
it leaves no process and no temporary folder behind. Run from outside the checkout, as a
user of the installed package would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.helpers import wait_for

EXE = Path(sys.executable).parent / "soulfra-supervisor"


def _argv(*args: str) -> list[str]:
    if EXE.exists():
        return [str(EXE), "selftest", *args]
    return [sys.executable, "-m", "supervisor", "selftest", *args]


def _env(tmp: Path) -> dict[str, str]:
    (tmp / "t").mkdir(exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp / "t")}


def _ours(folder: Path) -> list[psutil.Process]:
    """Processes whose command line names the selftest's folder (daemon, services, helpers)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if str(folder) in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


def _selftest(tmp: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_argv(*args), cwd=tmp, env=_env(tmp), capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.timeout(120)
def test_selftest_heals_the_faults_it_injects_and_exits_0(tmp_path):
    done = _selftest(tmp_path, "--only", "crash,http-500,slow-answers,missing-dir",
                     timeout=110)
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("\n\n")[-2] + "\n" + done.stdout.split("\n\n")[-1]
    lines = {ln.split()[0]: ln for ln in table.splitlines() if ln and not ln.startswith("-")}
    assert "restart_command" in lines["crash"] and lines["crash"].endswith("PASS")
    assert "signal" in lines["http-500"] and lines["http-500"].endswith("PASS")
    assert "degraded" in lines["slow-answers"] and "(none)" in lines["slow-answers"]
    assert "ensure_path" in lines["missing-dir"]
    assert "4/4 passed; harmful actions: 0" in done.stdout
    assert not list((tmp_path / "t").iterdir())  # its temporary folder is gone


@pytest.mark.timeout(200)
def test_the_default_selftest_passes_every_row_within_two_minutes(tmp_path):
    """The whole default run, as a user types it (Redis and PostgreSQL rows run where their
    binaries are installed, and are skipped with the reason elsewhere)."""
    done = _selftest(tmp_path, "--json", timeout=190)
    report = json.loads(done.stdout)
    failed = [r for r in report["rows"] if r["verdict"] == "fail"]
    assert done.returncode == 0 and not failed, json.dumps(failed, indent=1)
    ran = [r for r in report["rows"] if r["verdict"] == "pass"]
    assert len(ran) >= 12
    assert all(r["harmful"] == [] for r in ran)
    assert all(r["why"].startswith("needs ") for r in report["rows"] if r["verdict"] == "skipped")


@pytest.mark.timeout(60)
def test_a_fault_not_healed_within_the_bound_fails_its_row_and_the_exit_code(tmp_path):
    # A bound shorter than the 2 s the hang takes to be declared: detected too late, not healed.
    done = _selftest(tmp_path, "--only", "hang", "--bound", "0.5", timeout=50)
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "0/1 passed" in done.stdout


@pytest.mark.timeout(30)
def test_list_and_an_unknown_fault(tmp_path):
    listed = _selftest(tmp_path, "--list", timeout=20)
    assert listed.returncode == 0 and "crash" in listed.stdout and "deadlock" in listed.stdout
    bad = _selftest(tmp_path, "--only", "crash,nope", timeout=20)
    assert bad.returncode == 2 and "unknown fault(s): nope" in bad.stderr


@pytest.mark.timeout(90)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_selftest_leaves_no_process_and_no_folder(tmp_path, sig):
    proc = subprocess.Popen(_argv("--only", "crash,hang,missing-dir,sqlite-corrupt"),
                            cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        folder = Path(first.rsplit(" ", 1)[-1].strip())
        assert folder.is_dir(), first
        # Mid-run: the daemon and its services are up.
        wait_for(lambda: (folder / "lab" / "crash" / "service.pid").exists()
                 and len(_ours(folder)) >= 3, timeout=40, what="the selftest's processes")
        time.sleep(0.5)
        proc.send_signal(sig)
        proc.wait(timeout=40)
        assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""
        assert not folder.exists()
        assert _ours(folder) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp_path / "t", ignore_errors=True)


@pytest.mark.timeout(90)
def test_a_killed_selftest_takes_its_daemon_and_services_with_it(tmp_path):
    """SIGKILL leaves no chance to clean up; the daemon and helpers were started to get
    SIGTERM when the selftest dies (PR_SET_PDEATHSIG), and the daemon stops its services.
    Only the temporary folder stays (this test removes it)."""
    proc = subprocess.Popen(_argv("--only", "crash,redis-drop,hang"), cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        folder = Path(proc.stdout.readline().rsplit(" ", 1)[-1].strip())
        wait_for(lambda: (folder / "lab" / "crash" / "service.pid").exists()
                 and len(_ours(folder)) >= 3, timeout=40, what="the selftest's processes")
        proc.kill()
        proc.wait(timeout=10)
        wait_for(lambda: _ours(folder) == [], timeout=30, what="no process of the selftest")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for p in _ours(tmp_path / "t"):
            p.kill()
        shutil.rmtree(tmp_path / "t", ignore_errors=True)


def _rows(done: subprocess.CompletedProcess[str]) -> dict[str, dict[str, object]]:
    return {r["fault"]: r for r in json.loads(done.stdout)["rows"]}


@pytest.mark.timeout(120)
def test_a_stale_pid_file_naming_a_stranger_is_neither_signalled_nor_adopted(tmp_path):
    """The pid file of a SIGKILLed instance names a live stranger (a Python process, as
    after pid reuse): the service is restarted, the stranger lives on (its death would be a
    harmful action) and the pid file names the new instance."""
    done = _selftest(tmp_path, "--only", "stale-pid", "--json", timeout=110)
    row = _rows(done)["stale-pid"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert row["verdict"] == "pass" and row["healed_by"] == "restart_command"
    assert row["harmful"] == []


@pytest.mark.timeout(150)
def test_postgres_refusing_connections_and_a_broker_killed_heal_where_installed(tmp_path):
    """PostgreSQL full of a leaker's connections: detected by the postgres check, healed by
    restarting the leaker, PostgreSQL itself never acted on. The MQTT broker killed: healed
    once the worker says it reconnected. Skipped, with the reason, where not installed."""
    done = _selftest(tmp_path, "--only", "postgres-full,mqtt-broker", "--json", timeout=140)
    rows = _rows(done)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("postgres-full", "mqtt-broker"):
        row = rows[name]
        if row["verdict"] == "skipped":
            assert str(row["why"]).startswith("needs ")
            continue
        assert row["verdict"] == "pass" and row["harmful"] == [], row
        assert row["healed_by"] == "restart_command"
    if rows["postgres-full"]["verdict"] == "pass":
        assert "FILE_DESCRIPTORS_EXHAUSTED" in str(rows["postgres-full"]["detected_as"])


@pytest.mark.timeout(120)
def test_every_monit_process_block_starts_and_stops_its_service(tmp_path):
    """So that Monit, given the zoo's blocks alone, brings every service up (bench/ runs
    the same faults against it): each `check process` has a start and a stop program."""
    from supervisor.selftest import catalogue
    from supervisor.selftest.lab import Lab

    lab = Lab(tmp_path / "lab", "http://127.0.0.1:9")
    try:
        for fault in catalogue.ALL:
            if fault.missing() or fault.name == "container-killed":
                continue
            block = fault.setup(lab).monit or ""
            for part in block.split("check ")[1:]:
                if part.startswith("process "):
                    assert "start program" in part and "stop program" in part, \
                        f"{fault.name}: {part}"
    finally:
        lab.close()
