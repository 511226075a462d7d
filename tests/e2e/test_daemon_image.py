"""The daemon's own image: built here from the shipped Dockerfile on a local base
(tests/support/daemon_image.py), run with the settings of deploy/compose.yaml, watching a labelled
container through the mounted Docker socket, healthy by its HEALTHCHECK, stopped gracefully."""

from __future__ import annotations

import json
import os
import re
import uuid

import pytest
import yaml

from tests.support.daemon_image import build_daemon_image
from tests.support.dockerd import DockerUnavailableHere
from tests.support.helpers import ROOT, free_port, http, wait_for

# Building costs 1-3 minutes here (pip wheel, docker import, docker build; the base's
# debootstrap once more on a fresh machine): too much for every run, so only on demand.
pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(os.environ.get("SOULFRA_TEST_IMAGE") != "1",
                       reason="builds the daemon's image (1-3 min): run with "
                              "SOULFRA_TEST_IMAGE=1 scripts/test tests/e2e/test_daemon_image.py"),
]


def _compose_env() -> dict[str, str]:
    sup = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]
    env = sup["supervisor"]["environment"]
    return {k: re.sub(r"\$\{[^}]*\}", "t" * 32, str(v)) for k, v in env.items()}


def test_daemon_image_runs_like_compose_watches_a_container_and_stops_gracefully(
        dockerd, busybox_image, tmp_path):
    try:
        image = build_daemon_image(dockerd, tmp_path)
    except DockerUnavailableHere as exc:
        pytest.skip(str(exc))
    web, sup = f"web-{uuid.uuid4().hex[:6]}", f"sup-{uuid.uuid4().hex[:6]}"
    web_port, api_port = free_port(), free_port()
    gid = os.stat(dockerd.socket).st_gid
    env_args = [a for k, v in _compose_env().items() for a in ("-e", f"{k}={v}")]
    try:
        dockerd.docker("run", "-d", "--name", web, "--network", "host", "--tmpfs", "/run",
                       "-e", f"PORT={web_port}", "--label", "soulfra.enable=true",
                       "--label", f"soulfra.port={web_port}",
                       "--label", "soulfra.healthCheckPath=/cgi-bin/health", busybox_image)
        dockerd.docker("run", "-d", "--name", sup, "--network", "host", "--init",
                       "--user", "10001:10001", "--group-add", str(gid),
                       "-v", f"{dockerd.socket}:/var/run/docker.sock",
                       "-v", f"{sup}-data:/data", *env_args,
                       "-e", f"SOULFRA_PORT={api_port}", "--health-interval", "1s", image)
        url = f"http://127.0.0.1:{api_port}/api/monitoring/health"
        body = wait_for(lambda: (r := http("GET", url))[0] == 200 and web in r[1]["services"]
                        and r[1]["services"][web]["status"] == "healthy" and r[1],
                        timeout=60, what=f"daemon in its container watching {web}")
        assert body["services"][web]["status"] == "healthy"
        health = wait_for(lambda: _state(dockerd, sup)["Health"]["Status"] == "healthy"
                          and _state(dockerd, sup)["Health"], timeout=30,
                          what="HEALTHCHECK healthy")
        assert health["Log"][-1]["ExitCode"] == 0
        assert _state(dockerd, sup)["Running"]
        dockerd.docker("stop", "-t", "30", sup, timeout=60)
        assert _state(dockerd, sup)["ExitCode"] == 0, "SIGTERM is a graceful stop"
        logs = dockerd.docker("logs", sup).stdout + dockerd.docker("logs", sup).stderr
        assert "stopped in" in logs
        user = json.loads(dockerd.docker("inspect", image).stdout)[0]["Config"]["User"]
        assert user == "10001:10001"
    finally:
        dockerd.docker("rm", "-f", web, sup, check=False)
        dockerd.docker("volume", "rm", f"{sup}-data", check=False)


def _state(dockerd, name: str) -> dict:
    return dict(json.loads(dockerd.docker("inspect", name).stdout)[0]["State"])
