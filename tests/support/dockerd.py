"""A real dockerd owned by the tests: its own socket, data root and exec root under a temporary
folder, no iptables and no bridge (containers use host networking), stopped by its PID.

Images come from this machine only (no registry is reachable): `busybox_image` is `FROM
scratch` plus Debian's static busybox, enough for an HTTP service (`busybox httpd`) whose
/cgi-bin/health answers 500 once /run/sick exists. Run it with `--tmpfs /run`: a restart then
starts with a fresh /run, as a real service starts without its broken in-memory state.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.helpers import kill_tree

BUSYBOX = Path("/usr/bin/busybox")
HEALTH_CGI = """#!/bin/sh
if [ -e /run/sick ]; then
  printf 'Status: 500 Internal Server Error\\r\\nContent-Type: text/plain\\r\\n\\r\\nsick\\n'
else
  printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nok\\n'
fi
"""
# PID 1 of the test service: serve HTTP; once /run/hog exists, become a process that needs
# 64 MB (a container with a smaller memory limit is then OOM-killed).
SERVICE_SH = """#!/bin/sh
trap "exit 0" TERM
httpd -f -p "127.0.0.1:$PORT" -h /www &
while [ ! -e /run/hog ]; do sleep 0.1; done
exec dd if=/dev/zero of=/dev/null bs=64M count=1
"""


class DockerUnavailableHere(Exception):
    """dockerd cannot run on this machine; the message says why (tests skip with it)."""


class DockerDaemon:
    def __init__(self) -> None:
        # Short paths: a unix socket path has a 108-byte limit, containerd's lives below.
        self.root = Path(tempfile.mkdtemp(prefix="sfdk-", dir="/tmp"))
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.log_path = self.root / "dockerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0",
                "DOCKER_CONFIG": str(self.root / "client")}

    def start(self) -> DockerDaemon:
        if os.geteuid() != 0:
            raise DockerUnavailableHere("dockerd needs root")
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not Path(dockerd).exists() or shutil.which("docker") is None:
            raise DockerUnavailableHere("docker.io is not installed (scripts/test installs it "
                                        "as root)")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [dockerd, "--data-root", str(self.root / "data"),
             "--exec-root", str(self.root / "exec"), "-H", self.host,
             "--pidfile", str(self.root / "dockerd.pid"), "--iptables=false",
             "--ip6tables=false", "--bridge=none", "--live-restore", "--shutdown-timeout=1",
             "--userland-proxy=false"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DockerUnavailableHere(f"dockerd exited with {self.proc.returncode}: "
                                            f"{self.log_tail()}")
            if self.docker("version", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        self.stop()
        raise DockerUnavailableHere(f"dockerd did not answer within 30 s: {self.log_tail()}")

    def log_tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def docker(self, *args: str, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this daemon, as a user would type it."""
        done = subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
        return done

    def stop(self, remove_containers: bool = True) -> None:
        """Stop dockerd by its PID (containers removed first, so nothing outlives it)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        if remove_containers:
            ids = self.docker("ps", "-aq", check=False).stdout.split()
            if ids:
                self.docker("rm", "-f", *ids, check=False)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_tree(self.proc.pid)
            self.proc.wait()

    def restart(self) -> None:
        """dockerd goes away and comes back on the same socket; containers keep running
        (--live-restore), as on a host where the Docker package was upgraded."""
        self.stop(remove_containers=False)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        # dockerd leaves mounts behind (its netns/default, overlays): unmount ours, deepest
        # first, before removing the folder.
        mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
        for where in sorted((m for m in mounts if m.startswith(f"{self.root}/")), reverse=True):
            subprocess.run(["umount", "-l", where], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def build_busybox_image(self, tag: str = "soulfra-test/busybox:1") -> str:
        if not BUSYBOX.exists():
            raise DockerUnavailableHere("busybox-static is not installed (scripts/test "
                                        "installs it as root)")
        ctx = self.root / "busybox-ctx"
        (ctx / "www" / "cgi-bin").mkdir(parents=True, exist_ok=True)
        shutil.copy(BUSYBOX, ctx / "busybox")
        (ctx / "www" / "index.html").write_text("soulfra test service\n")
        for path, text in ((ctx / "www" / "cgi-bin" / "health", HEALTH_CGI),
                           (ctx / "service.sh", SERVICE_SH)):
            path.write_text(text)
            path.chmod(0o755)
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
            "COPY www /www\nCOPY service.sh /service.sh\n"
            'CMD ["/service.sh"]\n')
        self.docker("build", "-q", "-t", tag, str(ctx))
        return tag
