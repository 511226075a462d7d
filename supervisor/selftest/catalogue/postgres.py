"""PostgreSQL's faults, on a throwaway cluster of its own (initdb in a temporary folder, a
loopback port, scram passwords): the postmaster SIGKILLed, and the server kept running but
refusing connections because a leaking client holds every slot. Run only where PostgreSQL's
binaries are installed (and, as root, a `postgres` user to run them as)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supervisor.selftest.catalogue.process import RESTART, monit_block
from supervisor.selftest.catalogue.tools import base_url, health, pid_file, post
from supervisor.selftest.faults import Fault, Setup, find_binary
from supervisor.selftest.lab import COMMON, Lab, free_port, read_pid

MAX_CONNECTIONS = 20


@dataclass
class Server:
    entry: dict[str, Any]  # the services.json entry (started and restarted by the daemon)
    port: int
    dsn: str
    monit_start: str  # Monit's start and stop lines for it
    monit_stop: str
    pid_path: str  # the postmaster's own pid file (Monit reads it)


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid", "postgres", "--regid", "postgres", "--init-groups", "--"]


def server(lab: Lab, name: str) -> Server:
    """A fresh cluster the daemon starts (`restart` with autoStart), checked by `postgres`."""
    initdb = find_binary("initdb")
    assert initdb is not None
    bindir = Path(os.path.realpath(initdb)).parent
    # Not under the lab's folder (nor TMPDIR, which may be private): closed to the postgres
    # user that the server runs as when we are root.
    # Named after the run's folder, so that a leftover is traceable to its run.
    folder = Path(tempfile.mkdtemp(prefix=f"{lab.root.parent.name}-pg-",
                                   dir="/tmp" if os.geteuid() == 0 else None))
    lab.on_close(lambda: shutil.rmtree(folder, ignore_errors=True))
    pwfile = folder / "pw"
    pwfile.write_text("selftest\n")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(pwfile, "postgres", "postgres")
    made = subprocess.run([*_as_postgres(), str(bindir / "initdb"), "-D", str(folder / "data"),
                           "-U", "postgres", "--auth=scram-sha-256", f"--pwfile={pwfile}",
                           "--no-sync", "-E", "UTF8"], capture_output=True, text=True,
                          cwd=folder)
    if made.returncode != 0:
        raise RuntimeError(f"initdb failed: {made.stderr.strip()[-300:]}")
    port = free_port()
    pid = lab.folder(name) / "postgres.pid"
    lab.remember_pid_file(pid, marker=str(folder))
    argv = [*_as_postgres(), str(bindir / "postgres"), "-D", str(folder / "data"),
            "-p", str(port), "-k", str(folder), "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", f"max_connections={MAX_CONNECTIONS}"]
    dsn = f"postgresql://postgres:selftest@127.0.0.1:{port}/postgres"
    entry = {"checks": [{"type": "postgres", "timeout": 3000, "dsn": dsn}],
             **COMMON, "ladder": ["restart"], "startupGrace": 20000,
             "restart": {"command": argv, "pidFile": str(pid), "cwd": str(folder),
                         "autoStart": True, "stopOnExit": True, "stopTimeout": 5000}}
    postmaster = f"{folder}/data/postmaster.pid"
    # what a peer (Monit) started records itself only here: the lab stops it by this one too
    lab.remember_pid_file(Path(postmaster), marker=str(folder))
    return Server(entry, port, dsn,
                  f"  start program = \"/bin/sh -c 'cd {folder} && {' '.join(argv)} "
                  ">/dev/null 2>&1 &'\" with timeout 20 seconds\n",
                  f"  stop program = \"/bin/sh -c 'kill -INT $(head -1 {postmaster})'\"\n",
                  postmaster)


def accepts(dsn: str) -> bool:
    """A new client gets a connection and an answer (what a TCP connect cannot tell)."""
    import asyncpg

    async def ask() -> bool:
        conn = await asyncpg.connect(dsn, timeout=3)
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            conn.terminate()
    try:
        return asyncio.run(ask())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False


def killed(lab: Lab) -> Setup:
    pg = server(lab, "postgres")
    def inject() -> None:
        """SIGKILL of the postmaster named by its own pid file (written under the daemon and
        under Monit alike; the daemon's pid file exists only where the daemon started it)."""
        pid = read_pid(Path(pg.pid_path))
        if pid is None:
            raise RuntimeError(f"no pid in {pg.pid_path}: PostgreSQL is not running")
        os.kill(pid, signal.SIGKILL)
    return Setup({"postgres": pg.entry}, "postgres", inject,
                 monit=f"check process postgres with pidfile {pg.pid_path}\n"
                       + pg.monit_start + pg.monit_stop
                       + f"  if failed host 127.0.0.1 port {pg.port} protocol pgsql "
                         "then restart\n")


def full(lab: Lab) -> Setup:
    """PostgreSQL keeps running but refuses every new client ("sorry, too many clients
    already"): a client service leaks connections until it holds every slot, the daemon's
    own check among the refused. Restarting PostgreSQL would cure it and cut off every
    other client; the repair is to restart the leaker (its fd check sees the sockets pile
    up), and PostgreSQL must not be touched."""
    pg = server(lab, "postgres-full")
    db = {**pg.entry, "autoRestart": False, "errorThreshold": 1}  # watched, never restarted
    leaker = lab.service("pg-leaker", "--pg-dsn", pg.dsn)
    # A leak is judged over three checks: the database's refusal (one check) shows first.
    leaker["checks"] = [{"type": "process", "pidFile": str(pid_file(leaker)),
                         "maxOpenFiles": MAX_CONNECTIONS}]
    leaker["errorThreshold"] = 3
    before: list[int | None] = []

    def inject() -> None:
        before.append(health(leaker).get("pid"))
        post(base_url(leaker) + "/leak-pg")

    def healed() -> bool:
        """A new client is served again, by the same postmaster, next to a new leaker."""
        return accepts(pg.dsn) and health(leaker).get("pid") not in (None, *before)
    return Setup({"postgres-full": db, "pg-leaker": leaker}, "postgres-full", inject,
                 healed=healed, may_act_on={"pg-leaker"}, healer="pg-leaker",
                 monit=f"check process postgres-full with pidfile {pg.pid_path}\n"
                       + pg.monit_start + pg.monit_stop
                       + f"  if failed host 127.0.0.1 port {pg.port} protocol pgsql "
                         "then alert\n"
                       + monit_block("pg-leaker", leaker,
                                     f"if filedescriptors > {MAX_CONNECTIONS} then restart"))


NEEDS = ("initdb", "postgres", "postgres-user")
FAULTS = [
    Fault("postgres", "SIGKILL of PostgreSQL (connections refused)",
          ("PROCESS_EXITED", "SERVICE_UNAVAILABLE"), RESTART, killed, needs=NEEDS, quick=True),
    Fault("postgres-full", "a client leaks connections until PostgreSQL refuses new ones "
          "(the leaker is restarted, PostgreSQL left alone)",
          ("FILE_DESCRIPTORS_EXHAUSTED",), RESTART, full, needs=NEEDS),
]
