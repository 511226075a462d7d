"""Faults of the files a service needs: a data directory removed or opened up, a lock file a
crash left behind, a pid file naming a stranger, a corrupted SQLite file, a disk or its
inodes filled (on a small tmpfs, so root only). The repairs are the daemon's file strategies,
confined to configured paths, and its restart that must not touch a stranger."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

from supervisor.selftest.catalogue.process import RESTART, http_test, monit_block
from supervisor.selftest.catalogue.tools import base_url, health, kill, pid_file, wait_answering
from supervisor.selftest.faults import Fault, Setup
from supervisor.selftest.lab import COMMON, Lab, read_pid


def _data_dir_service(lab: Lab, name: str) -> tuple[dict[str, object], str]:
    data = lab.folder(name) / "data"
    data.mkdir(mode=0o700, exist_ok=True)
    os.chmod(data, 0o700)
    svc = lab.service(name, "--data-dir", str(data), "--data-mode", "0700", ladder=[
        {"strategy": "ensure_path", "paths": [{"path": str(data), "mode": "0700"}]}])
    return svc, str(data)


def missing_dir(lab: Lab) -> Setup:
    svc, data = _data_dir_service(lab, "missing-dir")
    return Setup({"missing-dir": svc}, "missing-dir", lambda: shutil.rmtree(data),
                 monit=monit_block("missing-dir", svc, http_test(svc))
                 + f"check directory missing-dir-data with path {data}\n"
                   f"  if does not exist then exec \"/bin/sh -c 'mkdir -m 0700 {data}'\"\n")


def wrong_mode(lab: Lab) -> Setup:
    svc, data = _data_dir_service(lab, "wrong-mode")
    return Setup({"wrong-mode": svc}, "wrong-mode", lambda: os.chmod(data, 0o777),
                 monit=monit_block("wrong-mode", svc, http_test(svc))
                 + f"check directory wrong-mode-data with path {data}\n"
                   f"  if failed permission 700 then exec \"/bin/chmod 0700 {data}\"\n")


def stale_lock(lab: Lab) -> Setup:
    lock = lab.folder("stale-lock") / "service.lock"
    svc = lab.service("stale-lock", "--lockfile", str(lock), ladder=[
        {"strategy": "ensure_path", "staleFiles": [str(lock)], "attempts": 1}, "restart"])
    # SIGKILL: the lock file stays, naming a pid that is gone; a start refuses while it exists.
    return Setup({"stale-lock": svc}, "stale-lock", lambda: kill(svc, signal.SIGKILL),
                 monit=None)


def stale_pid(lab: Lab) -> Setup:
    """A pid file left by a SIGKILLed instance names a pid that now belongs to a stranger.

    The first instance is started by the lab (by hand, or by a previous daemon: the daemon
    adopts it from its pid file). The injection starts the stranger — a Python process, so
    even the program's name matches — writes its pid into the pid file with the file's old
    modification time kept (what pid reuse leaves: the same file, another process behind the
    number) and SIGKILLs the instance. The daemon must restart the service without signalling
    or adopting the stranger."""
    svc = lab.service("stale-pid")
    pid_path = pid_file(svc)
    lab.spawn(svc["restart"]["command"], "stale-pid-first")
    wait_answering(svc)
    stranger: list[subprocess.Popen[bytes]] = []

    def inject() -> None:
        old = read_pid(pid_path)
        if old is None:
            raise RuntimeError(f"no pid in {pid_path}")
        written = os.stat(pid_path)
        # Real reuse comes long after the file was written (the pid numbers must wrap
        # around first); the daemon's identity check allows 2 s between a process's start
        # and its pid file's write, so the stranger starts later than that.
        time.sleep(max(0.0, written.st_mtime + 3 - time.time()))
        stranger.append(lab.spawn([sys.executable, "-c", "import time; time.sleep(3600)"],
                                  "stale-pid-stranger"))
        pid_path.write_text(f"{stranger[0].pid}\n")
        os.utime(pid_path, ns=(written.st_atime_ns, written.st_mtime_ns))
        os.kill(old, signal.SIGKILL)

    def healed() -> bool:
        """A new instance answers and is the one its pid file names; the stranger lives."""
        now = health(svc).get("pid")
        return bool(stranger) and stranger[0].poll() is None and now is not None \
            and now != stranger[0].pid and now == read_pid(pid_path)

    def harm() -> list[str]:
        if stranger and stranger[0].poll() is not None:
            return [f"pid {stranger[0].pid} (a stranger behind the stale pid file) was killed"
                    f" (exit {stranger[0].returncode})"]
        return []
    return Setup({"stale-pid": svc}, "stale-pid", inject, healed=healed, harm=harm,
                 monit=monit_block("stale-pid", svc, http_test(svc)))


def sqlite_corrupt(lab: Lab) -> Setup:
    folder = lab.folder("sqlite-corrupt")
    db, backup = folder / "app.db", folder / "app.db.backup"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
        conn.executemany("INSERT INTO users (email) VALUES (?)",
                         [(f"u{i}@example.test",) for i in range(200)])
    conn.close()
    shutil.copyfile(db, backup)
    svc = lab.service("sqlite-corrupt", "--sqlite", str(db), "--sqlite-backup", str(backup))
    svc["checks"] = [{"type": "sqlite", "path": str(db)}]
    # The service's own repair hook restores its backup: the daemon calls it, as it would a
    # service's /admin/restore.
    svc["ladder"] = [{"strategy": "webhook", "url": base_url(svc) + "/repair", "attempts": 2}]

    def corrupt() -> None:
        with open(db, "r+b") as f:
            f.write(b"this is no longer a database header")
    return Setup({"sqlite-corrupt": svc}, "sqlite-corrupt", corrupt, monit=None)


def disk_full(lab: Lab) -> Setup:
    disk = lab.folder("disk-full") / "disk"
    lab.mount_tmpfs(disk, "size=4m")
    spool = disk / "spool"
    spool.mkdir()
    keep = disk / "keep.db"  # outside the configured directory: must survive the cleanup
    keep.write_bytes(b"k" * 100_000)
    svc = {"checks": [{"type": "disk", "path": str(disk), "maxUsagePercent": 80}], **COMMON,
           "ladder": [{"strategy": "disk_cleanup", "directories": [str(spool)],
                       "patterns": ["*.dat"], "olderThan": 0, "targetUsagePercent": 50}]}

    def fill() -> None:
        while shutil.disk_usage(disk).used * 100 / shutil.disk_usage(disk).total < 88:
            try:
                (spool / f"chunk{os.urandom(6).hex()}.dat").write_bytes(b"x" * 200_000)
            except OSError:
                break

    def harm() -> list[str]:
        return [] if keep.exists() else [f"{keep} deleted (outside the configured paths)"]
    return Setup({"disk-full": svc}, "disk-full", fill, harm=harm,
                 monit=f"check filesystem disk-full with path {disk}\n"
                       f"  if space usage > 80% then exec \"/usr/bin/find {spool} -name '*.dat'"
                       " -delete\"\n")


def inodes(lab: Lab) -> Setup:
    disk = lab.folder("inodes") / "disk"
    lab.mount_tmpfs(disk, "size=8m,nr_inodes=400")
    spool = disk / "spool"
    spool.mkdir()
    svc = {"checks": [{"type": "disk", "path": str(disk), "maxInodesPercent": 80}], **COMMON,
           "ladder": [{"strategy": "disk_cleanup", "directories": [str(spool)],
                       "patterns": ["*.tmp"], "olderThan": 0}]}

    def fill() -> None:
        st = os.statvfs(disk)
        while (st.f_files - st.f_ffree) * 100 / st.f_files < 90:
            try:
                (spool / f"s{os.urandom(6).hex()}.tmp").write_bytes(b"")
            except OSError:
                break
            st = os.statvfs(disk)
    return Setup({"inodes": svc}, "inodes", fill,
                 monit=f"check filesystem inodes with path {disk}\n"
                       f"  if inode usage > 80% then exec \"/usr/bin/find {spool} -name '*.tmp'"
                       " -delete\"\n")


FAULTS = [
    Fault("missing-dir", "the service's data directory is removed", ("SERVICE_UNAVAILABLE",),
          "ensure_path", missing_dir, quick=True),
    Fault("wrong-mode", "the data directory's mode becomes 0777 (it must be 0700)",
          ("SERVICE_UNAVAILABLE",), "ensure_path", wrong_mode, quick=True),
    Fault("stale-lock", "SIGKILL leaves a lock file; a start refuses while it exists",
          ("PROCESS_EXITED",), RESTART, stale_lock, quick=True),
    Fault("stale-pid", "SIGKILL leaves a pid file naming a live stranger (pid reuse): it "
          "must be neither signalled nor adopted", ("PROCESS_EXITED",), RESTART, stale_pid,
          quick=True),
    Fault("sqlite-corrupt", "the header of the service's SQLite file is overwritten",
          ("DATA_CORRUPTION", "SERVICE_UNAVAILABLE"), "webhook", sqlite_corrupt, quick=True),
    Fault("disk-full", "a 4 MiB tmpfs filled to 88 % (old *.dat files may go)",
          ("DISK_EXHAUSTED",), "disk_cleanup", disk_full, needs=("root",)),
    Fault("inodes", "a tmpfs's inodes used up by empty *.tmp files", ("DISK_EXHAUSTED",),
          "disk_cleanup", inodes, needs=("root",)),
]
