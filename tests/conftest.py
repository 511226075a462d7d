from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from health_checks.base import CheckEnv
from tests.support.alert_receiver import Receiver
from tests.support.dockerd import DockerDaemon, DockerUnavailableHere
from tests.support.helpers import DaemonProcess, kill_tree
from tests.support.servers import MosquittoServer, RedisServer

# the `browser` and `page` fixtures of the dashboard tests
pytest_plugins = ["tests.support.browser"]


@pytest.fixture
async def check_env() -> Any:
    """What a daemon shares with its checks (HTTP client, heartbeat board), closed after."""
    env = CheckEnv()
    yield env
    await env.close()


@pytest.fixture
def daemon_factory(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """Start daemons for a test; every one, and every process it started, is stopped after."""
    started: list[DaemonProcess] = []

    def make(config: dict[str, Any], env: dict[str, str] | None = None,
             start: bool = True, subdir: str = "") -> DaemonProcess:
        where = tmp_path / subdir if subdir else tmp_path
        where.mkdir(parents=True, exist_ok=True)
        d = DaemonProcess(where, config, env)
        started.append(d)
        return d.start() if start else d

    yield make
    for d in started:
        d.stop()
    for pid_file in tmp_path.rglob("*.pid"):
        try:
            pid = int(pid_file.read_text().split()[0])
        except (ValueError, OSError):
            continue
        if _started_for_this_test(pid, tmp_path):
            kill_tree(pid)


def _started_for_this_test(pid: int, tmp_path: Path) -> bool:
    """A pid file may outlive its process and the pid be reused by an unrelated one: kill only
    a process whose command line names this test's folder or the demo service."""
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return str(tmp_path) in cmdline or "demo_service.py" in cmdline


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server on a free port, killed when the test ends."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def mosquitto_server(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A real mosquitto broker on a free port, killed when the test ends."""
    server = MosquittoServer(tmp_path / "mosquitto").start()
    yield server
    server.kill()


@pytest.fixture
def mount_tmpfs(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """mount_tmpfs(name, options) mounts a tmpfs of the test's own at tmp_path/name (needs root;
    the test is skipped where mounting is refused), so that "the disk is full" is real and
    harmless; every one is unmounted when the test ends."""
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): "
                        f"{done.stderr.strip() or done.returncode}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


@pytest.fixture
def small_tmpfs(mount_tmpfs: Callable[[str, str], Path]) -> Path:
    """A 4 MB tmpfs anyone may write to, for filling up."""
    return mount_tmpfs("small-fs", "size=4m,mode=0777")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """The local receiver that answers like Slack, Discord and a plain webhook."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="session")
def dockerd() -> Iterator[DockerDaemon]:
    """One real dockerd for the whole session (tests/support/dockerd.py), stopped by its PID at the
    end; the tests that need it skip, saying why, where it cannot start."""
    daemon = DockerDaemon()
    try:
        daemon.start()
    except DockerUnavailableHere as exc:
        daemon.cleanup()
        pytest.skip(f"no dockerd here: {exc}")
    try:
        yield daemon
    finally:
        daemon.cleanup()


@pytest.fixture(scope="session")
def busybox_image(dockerd: DockerDaemon) -> str:
    """An HTTP service image built here from scratch + busybox-static (no registry)."""
    try:
        return dockerd.build_busybox_image()
    except DockerUnavailableHere as exc:
        pytest.skip(str(exc))
