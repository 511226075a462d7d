"""A real systemd 252 (Debian bookworm) as PID 1 of a systemd-nspawn container, for the tests of
the unit (tests/e2e/test_under_systemd.py). See docs/operations.md ("Testing under systemd").

The root file system is made once with debootstrap (~75 s, ~320 MB) and kept in the test cache
(SOULFRA_TEST_CACHE, set by scripts/test); every boot mounts it with `--volatile=overlay`, so a
test run never changes it and two runs cannot disturb each other. The project is installed
inside with the real scripts/install; pip there works offline: the dependencies are the host
venv's (same Python minor version, through a .pth file) and the build tools come from a small
wheelhouse in the cache.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,curl,ca-certificates,iproute2,procps"
# Build tools for scripts/install's pip, and what redis needs on bookworm's Python 3.11.2 (the
# host venv, on a later 3.11, has no async_timeout).
WHEELS = ("setuptools", "wheel", "async_timeout")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def cache_dir() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return Path(os.environ.get("SOULFRA_TEST_CACHE", default / "soulfra-supervisor-tests"))


def unavailable() -> str | None:
    """Why a container cannot run here, or None."""
    if os.environ.get("SOULFRA_TEST_NSPAWN", "1") == "0":
        return "SOULFRA_TEST_NSPAWN=0"
    if os.geteuid() != 0:
        return "systemd-nspawn needs root"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/test installs it as root with apt-get)"
    if sys.version_info[:2] != (3, 11):
        return "the container's Python is 3.11; this venv's wheels are for another version"
    return None


def _mirror() -> str:
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    for line in Path("/etc/apt/sources.list").read_text().splitlines():
        if line.startswith("deb "):
            return line.split()[1]
    raise RuntimeError("no apt mirror in /etc/apt/sources.list*")


def ensure_root() -> Path:
    """The cached root file system (made on first use; a lock keeps two runs from racing)."""
    base = cache_dir() / "nspawn"
    base.mkdir(parents=True, exist_ok=True)
    root = base / "bookworm"
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "lib/systemd/systemd").exists():
            tmp = base / "bookworm.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}",
                            "bookworm", str(tmp), _mirror()], check=True,
                           stdout=subprocess.DEVNULL, timeout=900)
            (tmp / "etc/hostname").write_text("sd\n")
            (tmp / "etc/machine-id").write_text("")
            tmp.rename(root)
        wheels = base / "wheels"
        if not all(any(wheels.glob(f"{w}-*.whl")) for w in WHEELS):
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--dest",
                            str(wheels), "setuptools>=68", "wheel", "async-timeout"],
                           check=True, timeout=300)
    return root


def site_packages() -> Path:
    return Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" \
        / "site-packages"


class Container:
    """One boot of the cached root, private network, the checkout's files copied in."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader = 0

    def boot(self) -> Container:
        wheels = self.root.parent / "wheels"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                ["systemd-nspawn", "-D", str(self.root), "-b", "--register=no", "--keep-unit",
                 "--console=read-only", "--private-network", "--volatile=overlay",
                 f"--bind-ro={site_packages()}", f"--bind-ro={wheels}:/opt/wheels"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            children = _children(self.proc.pid)
            if children:
                self.leader = children[0]
                if self.run("systemctl", "is-system-running", "--wait",
                            check=False, timeout=30).returncode in (0, 1):
                    return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the container did not boot; see {self.log}:\n"
                           + self.log.read_text(errors="replace")[-2000:])

    def run(self, *argv: str, check: bool = True, timeout: float = 60,
            input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        """Run a command inside, with a clean environment, and return what it printed."""
        done = subprocess.run(
            ["nsenter", "-t", str(self.leader), "-a", "env", "-i", f"PATH={PATH}",
             "HOME=/root", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0", *argv],
            input=input, capture_output=True, timeout=timeout)
        out = subprocess.CompletedProcess(done.args, done.returncode,
                                          done.stdout.decode(errors="replace"),
                                          done.stderr.decode(errors="replace"))
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {out.returncode}:\n"
                                 f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
        return out

    def sh(self, script: str, check: bool = True, timeout: float = 60
           ) -> subprocess.CompletedProcess[str]:
        return self.run("bash", "-c", script, check=check, timeout=timeout)

    def write(self, path: str, text: str, mode: str = "0644") -> None:
        self.run("install", "-D", "-m", mode, "/dev/stdin", path, input=text.encode())

    def copy_checkout(self, dest: str = "/opt/src") -> None:
        """The checkout's tracked and new files (not .venv, data, caches), as they are now."""
        files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                               capture_output=True, check=True).stdout.split(b"\0")
        tar = self.root.parent / f"src-{os.getpid()}.tar"
        try:
            with tarfile.open(tar, "w") as t:
                for name in filter(None, files):
                    path = ROOT / name.decode()
                    if path.is_file():
                        t.add(path, arcname=name.decode())
            self.run("mkdir", "-p", dest)
            self.run("tar", "-C", dest, "-xf", "-", input=tar.read_bytes(), timeout=120)
        finally:
            tar.unlink(missing_ok=True)

    def install(self) -> None:
        """scripts/install, pip offline: dependencies from the host venv, build tools from
        the wheelhouse."""
        self.copy_checkout()
        prefix = "/opt/soulfra-supervisor"
        self.sh(f"mkdir -p {prefix} && touch {prefix}/.soulfra-supervisor-install && "
                f"python3 -m venv {prefix}/venv && "
                f"echo {site_packages()} > $({prefix}/venv/bin/python -c "
                "'import site; print(site.getsitepackages()[0])')/host-deps.pth && "
                f"{prefix}/venv/bin/pip install --quiet --no-index --find-links /opt/wheels "
                "async-timeout")
        self.sh("cd /opt/src && PIP_NO_INDEX=1 PIP_FIND_LINKS=/opt/wheels PIP_NO_DEPS=1 "
                "scripts/install && systemctl daemon-reload", timeout=180)

    def poweroff(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None and self.leader:
            self.run("systemctl", "poweroff", check=False, timeout=30)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the nspawn we started, by its pid
                self.proc.wait(timeout=10)
        self.proc = None


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]
