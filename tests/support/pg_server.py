"""A PostgreSQL server owned by a test: initdb in a fresh directory and the postmaster on a
free port, run as the `postgres` user (initdb and postgres refuse to run as root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.helpers import free_port, kill_tree

PASSWORD = "s3cret-pg"


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return Path(found[-1]).parent if found else None


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"]


class PostgresServer:
    def __init__(self) -> None:
        bindir = pg_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/test (it installs it)")
        self.bindir = bindir
        # Not under pytest's tmp_path: that is root's and closed to the postgres user.
        self.dir = Path(tempfile.mkdtemp(prefix="soulfra-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        pwfile = self.dir / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        subprocess.run([*_as_postgres(), str(bindir / "initdb"), "-D", str(self.dir / "data"),
                        "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True,
                       cwd=self.dir)

    def dsn(self, password: str = PASSWORD) -> str:
        return f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        log = open(self.dir / "postgres.log", "ab")
        # exec'd directly (setpriv, not runuser): our pid is the postmaster's, for signals.
        self.proc = subprocess.Popen(
            [*_as_postgres(), str(self.bindir / "postgres"), "-D", str(self.dir / "data"),
             "-p", str(self.port), "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
             "-c", "fsync=off", "-c", "max_connections=20"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1",
                                    "-p", str(self.port)])
            if ready.returncode == 0:
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start; see {self.dir / 'postgres.log'}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kill_tree(self.proc.pid)
            self.proc.wait()
        # A SIGKILLed postmaster leaves its pid file; the next start must not trip on it.
        (self.dir / "data" / "postmaster.pid").unlink(missing_ok=True)

    def remove(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
