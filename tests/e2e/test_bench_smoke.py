"""Quick runs of the benchmark's scenarios, so that bench/ cannot rot unnoticed.

They run `python -m bench crash` for real against all three peers (soulfra-supervisor, Monit
and supervisord from Debian) once each, a tiny `false-alarms` and a one-fault `zoo`, and
regenerate the report into a temporary folder. Timings and counts of false alarms are not
asserted: speed and false alarms are measured by bench/run, not by tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from bench.peers import peers_missing
from tests.support.helpers import ROOT

# Timing-sensitive (loop lag, pacing, watchdog intervals, CPU hogs): under pytest-xdist
# these run one after another on one worker (scripts/test passes --dist loadgroup).
pytestmark = pytest.mark.xdist_group("timing")


@pytest.mark.timeout(120)
def test_crash_scenario_runs_against_every_peer(tmp_path: Path) -> None:
    missing = peers_missing()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed and could not be installed here "
                    "(scripts/test installs monit and supervisor with apt-get as root)")
    results, docs = tmp_path / "results", tmp_path / "docs" / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "crash", "--repeat", "1", "--interval", "1",
         "--results-dir", str(results), "--docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=110)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    [run_file] = results.glob("*.json")
    run = json.loads(run_file.read_text())
    crash = run["results"]["crash"]
    assert set(crash) == {"soulfra-supervisor", "monit", "supervisord"}
    for peer, r in crash.items():
        assert r["not_recovered"] == 0, (peer, r)
        assert 0 < r["median_s"] < r["bound_s"], (peer, r)
    assert run["machine"]["load_1min"], "the load average is recorded with the run"

    page = docs.read_text()
    assert "| 1 Crash (SIGKILL) → healthy, s |" in page
    assert run["command"] in page

    assert _leftovers(results) == []


def _leftovers(results: Path) -> list[int]:
    """Processes the run left: those naming its working folder."""
    workdir = str(results / "tmp")
    return [p.pid for p in psutil.process_iter(["cmdline"])
            if any(workdir in a for a in (p.info["cmdline"] or []))]


@pytest.mark.timeout(180)
def test_false_alarm_run_counts_every_condition(tmp_path: Path) -> None:
    results, docs = tmp_path / "results", tmp_path / "docs" / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "false-alarms", "--peers", "soulfra-supervisor",
         "--fa-window", "3", "--fa-services", "1", "--fa-endpoints", "20@1",
         "--interval", "1", "--timeout", "1", "--results-dir", str(results), "--docs",
         str(docs)], cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    [run_file] = results.glob("*.json")
    r = json.loads(run_file.read_text())["results"]["false-alarms"]["soulfra-supervisor"]
    assert list(r["conditions"]) == ["quiet", "cpu", "loop", "cpu+loop"]
    for name, c in r["conditions"].items():
        assert sum(c["checks"].values()) > 0, (name, c)  # the daemon kept checking
        assert set(c["false_failures"]) == {"plain", "slow", "endpoints"}
    assert r["conditions"]["cpu"]["hogs"] >= 1
    assert r["conditions"]["loop"]["loop_blocks_s"], "the daemon's loop was blocked"
    page = docs.read_text()
    assert "## False alarms: healthy services under stress" in page
    assert "| cpu+loop: both" in page
    assert _leftovers(results) == []


@pytest.mark.timeout(240)
def test_zoo_runs_a_fault_against_soulfra_and_monit(tmp_path: Path) -> None:
    if "monit" in peers_missing():
        pytest.skip("monit not installed (bench/run installs it with apt-get as root)")
    results, docs = tmp_path / "results", tmp_path / "docs" / "benchmarks.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "zoo", "--repeat", "1", "--zoo-faults", "crash",
         "--peers", "soulfra-supervisor,monit", "--results-dir", str(results),
         "--docs", str(docs)], cwd=ROOT, capture_output=True, text=True, timeout=230)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    [run_file] = results.glob("*.json")
    z = json.loads(run_file.read_text())["results"]["zoo"]["all"]
    assert z["faults"] == ["crash"]
    assert z["catalogue"]["crash"]["runs"] == 1
    for peer in ("soulfra-supervisor", "monit"):
        assert z["side_by_side"][peer]["crash"]["runs"] == 1, z["side_by_side"]
    page = docs.read_text()
    assert "## The fault zoo, side by side with Monit" in page
    assert "| crash |" in page
    assert _leftovers(results) == []
