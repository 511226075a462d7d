"""Containers as services, against a real dockerd (tests/support/dockerd.py) and the docker CLI.

Every container is the busybox HTTP service of tests/support/dockerd.py on host networking, started
with `--tmpfs /run` so that a restart clears what a test broke (/run/sick, /run/hog).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dockerd import DockerDaemon
from tests.support.helpers import DaemonProcess, free_port, services_file, wait_for

# One dockerd per test session: under pytest-xdist these run on one worker.
pytestmark = [pytest.mark.timeout(120), pytest.mark.xdist_group("docker")]

HEALTH = "/cgi-bin/health"


class Containers:
    """Containers started by one test, all removed (by id) when it ends."""

    def __init__(self, dockerd: DockerDaemon, image: str) -> None:
        self.dockerd = dockerd
        self.image = image
        self.ids: list[str] = []

    def run(self, *args: str, port: int | None = None) -> tuple[str, int]:
        name = f"t-{uuid.uuid4().hex[:8]}"
        port = port or free_port()
        done = self.dockerd.docker("run", "-d", "--name", name, "--network", "host",
                                   "--tmpfs", "/run", "-e", f"PORT={port}", *args, self.image)
        self.ids.append(done.stdout.strip())
        return name, port

    def inspect(self, name: str) -> dict[str, Any]:
        return dict(json.loads(self.dockerd.docker("inspect", name).stdout)[0])

    def remove(self) -> None:
        if self.ids:
            self.dockerd.docker("rm", "-f", *self.ids, check=False)


@pytest.fixture
def containers(dockerd: DockerDaemon, busybox_image: str) -> Iterator[Containers]:
    made = Containers(dockerd, busybox_image)
    yield made
    made.remove()


def _service(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {"container": name, "port": port, "healthCheckPath": HEALTH, "interval": 60000,
            "timeoutThreshold": 2000, "errorThreshold": 3, **extra}


def _daemon(factory: Callable[..., DaemonProcess], dockerd: DockerDaemon,
            services: dict[str, Any], **env: str) -> DaemonProcess:
    return factory(services_file(services, startupGrace=3000),
                   env={"DOCKER_HOST": dockerd.host, **env})


def _recovered(d: DaemonProcess, service: str) -> dict[str, Any] | None:
    return next((e for e in d.errors() if e["service"] == service and e["recovered"]), None)


def test_docker_kill_is_seen_through_the_event_stream_and_repaired(
        containers, dockerd, daemon_factory):
    name, port = containers.run()
    # A 60 s interval: only Docker's event stream can explain a repair within seconds.
    d = _daemon(daemon_factory, dockerd, {"web": _service(name, port)})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    started = containers.inspect(name)["State"]["StartedAt"]
    dockerd.docker("kill", name)
    err = wait_for(lambda: _recovered(d, "web"), timeout=30, what="web repaired")
    assert d.state("web") == "healthy"
    assert err["type"] == "process_exited"
    assert "exit code 137" in err["message"] and "Docker event: die" in err["message"], err
    assert 0 < err["recoveryTime"] < 30000
    state = containers.inspect(name)["State"]
    assert state["Running"] and state["StartedAt"] != started, "restarted through the API"
    view = d.service("web")
    run = view["recentRecoveries"][0]
    assert run["status"] == "succeeded" and run["attempts"][0]["strategy"] == \
        "restart_container"
    status = d.get("/api/monitoring/status")[1]["containers"]
    assert status["connected"] is True and status["pushedFailures"] >= 1


def test_health_answering_500_restarts_the_container(containers, dockerd, daemon_factory):
    name, port = containers.run()
    d = _daemon(daemon_factory, dockerd,
                {"web": _service(name, port, interval=300, errorThreshold=2)})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    started = containers.inspect(name)["State"]["StartedAt"]
    dockerd.docker("exec", name, "touch", "/run/sick")
    err = wait_for(lambda: _recovered(d, "web"), timeout=40, what="web repaired")
    assert "HTTP 500" in err["message"], err
    assert containers.inspect(name)["State"]["StartedAt"] != started
    assert d.state("web") == "healthy"


def test_unhealthy_by_its_own_healthcheck_is_seen_through_the_event_stream(
        containers, dockerd, daemon_factory):
    name, port = containers.run(
        "--health-cmd", "wget -q -O /dev/null http://127.0.0.1:$PORT/cgi-bin/health",
        "--health-interval", "1s", "--health-retries", "1", "--health-timeout", "2s")
    # No HTTP check of our own and a 60 s interval: only Docker's health_status event can
    # explain a repair within seconds.
    d = _daemon(daemon_factory, dockerd, {"web": {"container": name, "interval": 60000}})
    wait_for(lambda: containers.inspect(name)["State"]["Health"]["Status"] == "healthy",
             what="Docker's healthcheck passing")
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    dockerd.docker("exec", name, "touch", "/run/sick")
    err = wait_for(lambda: _recovered(d, "web"), timeout=40, what="web repaired")
    assert "unhealthy by its own HEALTHCHECK" in err["message"], err
    assert "Docker event: health_status: unhealthy" in err["message"], err
    assert d.state("web") == "healthy"


def test_oom_killed_container_is_memory_exhaustion(containers, dockerd, daemon_factory):
    name, port = containers.run("--memory", "8m", "--memory-swap", "8m")
    d = _daemon(daemon_factory, dockerd, {"web": _service(name, port)})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    dockerd.docker("exec", name, "touch", "/run/hog")  # PID 1 becomes a 64 MB dd
    err = wait_for(lambda: _recovered(d, "web"), timeout=40, what="web repaired")
    assert err["category"] == "MEMORY_EXHAUSTED", err
    assert "out of memory" in err["message"] and "8 MB" in err["message"], err
    assert containers.inspect(name)["State"]["Running"]


def test_containers_found_by_labels_and_forgotten_when_removed(
        containers, dockerd, daemon_factory):
    taken_port = free_port()
    d = _daemon(daemon_factory, dockerd,
                {"pinned": {"port": taken_port, "healthCheckPath": HEALTH, "interval": 60000}},
                SOULFRA_DOCKER_DISCOVERY="true")
    port = free_port()
    name, _ = containers.run("--label", "soulfra.enable=true",
                             "--label", f"soulfra.port={port}",
                             "--label", f"soulfra.healthCheckPath={HEALTH}",
                             "--label", "soulfra.interval=500", port=port)
    bad, _ = containers.run("--label", "soulfra.enable=true", "--label", "soulfra.port=99999")
    shadow, _ = containers.run("--label", "soulfra.enable=true", "--label", "soulfra.name=pinned",
                               port=taken_port)
    wait_for(lambda: d.service(name)["status"] == "healthy", what="discovered service healthy")
    discovery = wait_for(lambda: _discovery(d) if bad in _discovery(d)["rejected"] else None,
                         what="bad labels reported")
    assert discovery["discovered"][name] == name
    assert any("label soulfra.port" in p and "65535" in p for p in discovery["rejected"][bad])
    assert "services.json defines service 'pinned'" in discovery["leftToServicesJson"][shadow]
    assert d.get(f"/api/monitoring/services/{bad}")[0] == 404
    dockerd.docker("rm", "-f", name)
    wait_for(lambda: d.get(f"/api/monitoring/services/{name}")[0] == 404,
             what="removed container forgotten")
    assert name not in _discovery(d)["discovered"]
    assert "pinned" in d.get("/api/monitoring/health")[1]["services"]
    # services.json no longer defines "pinned": the container labelled so is discovered now.
    d.config_path.write_text(json.dumps(services_file({})))
    assert d.post("/api/monitoring/reload")[0] == 200
    wait_for(lambda: _discovery(d)["discovered"].get("pinned") == shadow,
             what="the container services.json no longer shadows is discovered")
    assert shadow not in _discovery(d)["leftToServicesJson"]


def _discovery(d: DaemonProcess) -> dict[str, Any]:
    return dict(d.get("/api/monitoring/status")[1]["containers"]["discovery"])


def test_docker_socket_absent_is_reported_and_the_rest_keeps_working(daemon_factory, tmp_path):
    missing = tmp_path / "no-docker.sock"
    d = daemon_factory(services_file({
        "web": {"container": "web", "interval": 300},
        "disk": {"checks": [{"type": "disk", "path": str(tmp_path)}], "interval": 300}}),
        env={"DOCKER_HOST": f"unix://{missing}"})
    wait_for(lambda: d.state("disk") == "healthy", what="disk healthy")
    status = wait_for(lambda: d.get("/api/monitoring/status")[1]["containers"], what="status")
    assert status["connected"] is False
    assert f"the Docker socket {missing} does not exist" in status["lastError"]
    # The container cannot be judged without dockerd: its state stays unknown, not failing.
    wait_for(lambda: "does not exist" in d.log(), what="the reason in the log")
    assert d.state("web") == "unknown"
    assert d.get("/api/monitoring/health")[0] == 200


def test_docker_socket_without_permission_says_so(tmp_path):
    """Root may open any socket, so the client runs as root without capabilities (setpriv)
    against a socket that belongs to another user and only that user may use."""
    import os
    import shutil
    import socket
    import subprocess
    import sys

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to drop root's powers")
    path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.listen()
    os.chown(path, 65534, 65534)
    path.chmod(0o600)
    code = ("import asyncio\nfrom supervisor.clients.docker import DockerClient, "
            "DockerUnavailable\n"
            "async def main():\n"
            f"    c = DockerClient('unix://{path}')\n"
            "    try:\n        await c.ping()\n"
            "    except DockerUnavailable as exc:\n        print(exc)\n"
            "    await c.close()\n"
            "asyncio.run(main())\n")
    try:
        done = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all",
                               sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=30, cwd=Path(__file__).resolve().parents[2])
    finally:
        server.close()
    assert f"permission denied on the Docker socket {path}" in done.stdout, done.stderr
    assert "group" in done.stdout  # says what to change


def test_dockerd_restart_is_survived_and_events_flow_again(containers, dockerd, daemon_factory):
    name, port = containers.run()
    d = _daemon(daemon_factory, dockerd, {"web": _service(name, port)})
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    dockerd.restart()  # --live-restore: the container keeps running meanwhile
    wait_for(lambda: (s := d.get("/api/monitoring/status")[1]["containers"])["connects"] >= 2
             and s["connected"], what="reconnected")
    assert "Docker events: connected to" in d.log(), "the outage and the reconnect are logged"
    dockerd.docker("kill", name)
    wait_for(lambda: _recovered(d, "web"), timeout=30, what="kill after the restart repaired")
    assert d.state("web") == "healthy"
