"""Safe defaults at startup: loopback unless a token is set, and a services.json that only its
owner can change."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from pydantic import SecretStr

from supervisor.config.safety import UnsafeSetup, check_bind, check_config_file
from supervisor.config.settings import Settings
from tests.support.helpers import ROOT, services_file

TOKEN = "t0k3n-" + "x" * 26


def _disk(tmp_path):
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": 1000}})


def _run(tmp_path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    config = tmp_path / "services.json"
    if not config.exists():
        config.write_text(json.dumps(_disk(tmp_path)))
    return subprocess.run([sys.executable, "-m", "supervisor", "run", "--config", str(config),
                           "--data-dir", str(tmp_path / "data"), "--port", "0", *args],
                          cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=30)


def test_refuses_to_listen_off_loopback_without_a_token(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SOULFRA_API_TOKEN"}
    done = subprocess.run(
        [sys.executable, "-m", "supervisor", "run", "--host", "0.0.0.0", "--port", "0",
         "--config", str(tmp_path / "services.json"), "--data-dir", str(tmp_path / "d")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "refusing to start" in done.stderr and "SOULFRA_API_TOKEN" in done.stderr
    assert "0.0.0.0" in done.stderr
    short = _run(tmp_path, "--host", "0.0.0.0", env={"SOULFRA_API_TOKEN": "short"})
    assert short.returncode == 1 and "at least 16" in short.stderr


def test_bind_rules():
    check_bind(Settings(host="127.0.0.1"))
    check_bind(Settings(host="::1"))
    check_bind(Settings(host="localhost"))
    check_bind(Settings(host="0.0.0.0", api_token=SecretStr(TOKEN)))
    for host in ("0.0.0.0", "::", "192.168.1.10", "myhost.example"):
        with pytest.raises(UnsafeSetup, match="SOULFRA_API_TOKEN"):
            check_bind(Settings(host=host))


def test_refuses_a_services_json_others_can_write(tmp_path):
    config = tmp_path / "services.json"
    config.write_text(json.dumps(_disk(tmp_path)))
    os.chmod(config, 0o666)
    done = _run(tmp_path)
    assert done.returncode == 1, done.stderr
    assert "writable by every user" in done.stderr and f"chmod go-w {config}" in done.stderr
    os.chmod(config, 0o644)
    if os.geteuid() == 0:  # only root can hand the file to another group or user
        os.chown(config, -1, 65534)
        os.chmod(config, 0o664)
        with pytest.raises(UnsafeSetup, match="writable by group"):
            check_config_file(config)
        os.chmod(config, 0o644)
        os.chown(config, 65534, -1)
        with pytest.raises(UnsafeSetup, match="belongs to"):
            check_config_file(config)
        os.chown(config, 0, 0)
    check_config_file(config)
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    (shared / "services.json").write_text(config.read_text())
    with pytest.raises(UnsafeSetup, match="could replace services.json"):
        check_config_file(shared / "services.json")
    os.chmod(shared, 0o1777)  # the sticky bit stops others from renaming over it
    check_config_file(shared / "services.json")
