"""The systemd unit (verified by systemd-analyze) and scripts/install, run for real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.helpers import ROOT

UNIT = ROOT / "systemd" / "soulfra-supervisor.service"
ANALYZE = shutil.which("systemd-analyze")


def unit_settings(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, "verify", "--man=no", str(unit)], capture_output=True,
                          text=True, timeout=60)


def test_unit_declares_what_the_daemon_relies_on():
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["Restart"] == ["on-failure"]
    assert s["WatchdogSec"] and s["RestartSec"]
    # A start limit counts manual restarts too; once hit, the supervisor stays down.
    assert s["StartLimitIntervalSec"] == ["0"] and "StartLimitBurst" not in s
    # ConfigurationDirectory= would make services.json writable for every child.
    assert "ConfigurationDirectory" not in s and s["ProtectSystem"] == ["full"]
    # Children started by restart_command must survive a restart of the daemon.
    assert s["KillMode"] == ["process"]
    assert any(v.startswith("-/etc/soulfra-supervisor/") for v in s["EnvironmentFile"])
    # The daemon's graceful-stop bound must fit in systemd's.
    assert int(s["TimeoutStopSec"][0].removesuffix("s")) > 20


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    # verify insists that ExecStart exists: point it at this checkout's program.
    program = Path(sys.executable).parent / "soulfra-supervisor"
    unit = tmp_path / "soulfra-supervisor.service"
    unit.write_text(UNIT.read_text().replace("/opt/soulfra-supervisor/venv/bin/soulfra-supervisor",
                                             str(program)))
    result = verify(unit)
    # verify exits 0 on settings it ignores; a warning on stderr is a failure too.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("KillMode=process", "KillMode=sometimes"))
    assert "KillMode" in verify(broken).stderr or "kill mode" in verify(broken).stderr


@pytest.mark.timeout(420)
def test_install_and_uninstall_into_a_prefix(tmp_path):
    opt, etc, units, var = (tmp_path / d for d in ("opt", "etc", "units", "var"))
    args = ["--prefix", str(opt), "--config-dir", str(etc), "--unit-dir", str(units),
            "--data-dir", str(var)]
    # An operator's env file from an earlier install: an (re)install must keep it.
    etc.mkdir()
    (etc / "soulfra-supervisor.env").write_text("SOULFRA_PORT=3999\n")
    os.chmod(etc / "soulfra-supervisor.env", 0o600)
    done = subprocess.run(["bash", str(ROOT / "scripts" / "install"), *args],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "systemctl enable --now soulfra-supervisor" in done.stdout
    assert "systemctl daemon-reload" in done.stdout
    program = opt / "venv" / "bin" / "soulfra-supervisor"
    version = subprocess.run([str(program), "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0 and version.stdout.strip()
    unit = units / "soulfra-supervisor.service"
    s = unit_settings(unit.read_text())
    assert s["ExecStart"] == [f"{program} run"]
    assert f"SOULFRA_CONFIG={etc}/services.json" in s["Environment"]
    assert (etc / "services.json").stat().st_mode & 0o022 == 0
    assert (etc / "soulfra-supervisor.env").read_text() == "SOULFRA_PORT=3999\n"
    assert (etc / "soulfra-supervisor.env.example").exists()
    assert (etc / "services.json").read_text() == (ROOT / "systemd" /
                                                   "services.example.json").read_text()
    if ANALYZE is not None:
        result = verify(unit)
        assert result.returncode == 0 and not result.stderr.strip(), result.stderr

    gone = subprocess.run(["bash", str(ROOT / "scripts" / "install"), "--uninstall", *args],
                          capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not unit.exists() and not opt.exists()
    assert (etc / "services.json").exists(), "configuration is kept without --purge"
    purge = subprocess.run(["bash", str(ROOT / "scripts" / "install"), "--uninstall", "--purge",
                            *args], capture_output=True, text=True, timeout=60)
    assert purge.returncode == 0 and not etc.exists()
