"""The daemon's own image, built here without a registry: the shipped Dockerfile with BASE a
local Debian bookworm image (debootstrap'ed root with python3 + venv, `docker import`ed) and
the wheels of this checkout (pip wheel, with the machine's own pip configuration).

The root file system is made once and cached as a tarball under
~/.cache/soulfra-supervisor-tests/ (debootstrap takes 1–3 minutes); later runs only import it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.dockerd import DockerDaemon, DockerUnavailableHere
from tests.support.helpers import ROOT

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / \
    "soulfra-supervisor-tests"
BASE_TAR = CACHE / "bookworm-python3.tar"
BASE_TAG = "soulfra-test/python-base:bookworm"
IMAGE_TAG = "soulfra-test/supervisor:dev"
SOURCES = ["pyproject.toml", "README.md", "Dockerfile", ".dockerignore", "supervisor",
           "health_checks", "recovery_strategies", "deploy", "scripts/demo_service.py"]


def _mirror() -> str:
    """The Debian mirror this machine's apt uses (never written into the repository)."""
    for sources in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.exists():
        for line in listing.read_text().splitlines():
            if line.startswith("deb "):
                return line.split()[1]
    raise DockerUnavailableHere("no Debian mirror in /etc/apt: cannot debootstrap a base")


def base_tarball() -> Path:
    if BASE_TAR.exists():
        return BASE_TAR
    if shutil.which("debootstrap") is None:
        raise DockerUnavailableHere("debootstrap is not installed (scripts/test installs it)")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
    try:
        root = work / "root"
        done = subprocess.run(
            ["debootstrap", "--variant=minbase", "--include=python3,python3-venv",
             "bookworm", str(root), _mirror()], capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise DockerUnavailableHere(f"debootstrap failed: {done.stderr.strip()[-300:]}")
        shutil.rmtree(root / "var" / "cache" / "apt" / "archives", ignore_errors=True)
        partial = BASE_TAR.with_suffix(".partial")
        subprocess.run(["tar", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.rename(BASE_TAR)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BASE_TAR


def build_daemon_image(dockerd: DockerDaemon, workdir: Path) -> str:
    """Import the base, make the wheels, and `docker build` the shipped Dockerfile."""
    tar = base_tarball()
    subprocess.run(["docker", "import", str(tar), BASE_TAG], env=dockerd.env, check=True,
                   capture_output=True, timeout=300)
    ctx = workdir / "context"
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, ctx / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.whl"))
        else:
            (ctx / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, ctx / name)
    wheels = ctx / "deploy" / "wheels"
    # The package with its dependencies, the build backend pip needs to build it, and what
    # the base's Python 3.11.2 needs beyond this one (redis wants async-timeout below 3.11.3).
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir",
                           str(wheels), str(ctx), "setuptools>=68", "wheel",
                           "async-timeout>=4.0.3"],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"pip wheel failed: {done.stderr.strip()[-500:]}")
    dockerd.docker("build", "-q", "-t", IMAGE_TAG, "--build-arg", f"BASE={BASE_TAG}",
                   "--build-arg", "PIP_NO_INDEX=1", str(ctx), timeout=600)
    return IMAGE_TAG
