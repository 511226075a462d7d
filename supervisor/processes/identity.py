"""Which process a pid file really names: a pid alone is not enough after pid reuse.

When the daemon starts a process it records the pid's start time and command line in
`<data>/processes/<service>.json`. After a restart of the daemon, a pid from a pid file is
adopted only when the process behind it is that one:

- recorded by us for this pid: its start time must match (a reused pid never has the old start
  time) and so must its command line (shell commands excepted: the shell may exec the command);
- not recorded by us (the service writes its own pid file, or it was started by hand): it must
  have been running when the pid file was last written, and its command line must name the
  program of the spec's command.

Anything else is left alone: never watched, never signalled, never killed with its group.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from supervisor.processes.spec import ProcessSpec

# psutil's start times come from /proc in clock ticks: equal within this for one process.
START_TIME_SLACK_S = 0.05
# A pid file is written a moment after the process starts (by it or by us).
PID_FILE_SLACK_S = 2.0


@dataclass
class Identity:
    pid: int
    start_time: float  # seconds since the epoch, as psutil reports it
    cmdline: list[str]
    pid_file: str | None = None
    shell: bool = False


def identify(pid: int) -> Identity | None:
    try:
        proc = psutil.Process(pid)
        return Identity(pid, proc.create_time(), proc.cmdline())
    except psutil.Error:
        return None


class IdentityBook:
    """The identities of the processes the daemon started, one file per service."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, service: str) -> Path:
        return self.folder / f"{service}.json"

    def remember(self, service: str, identity: Identity) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self._path(service).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(identity)))
        os.replace(tmp, self._path(service))

    def recall(self, service: str) -> Identity | None:
        try:
            return Identity(**json.loads(self._path(service).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def forget(self, service: str) -> None:
        self._path(service).unlink(missing_ok=True)


def why_not(pid: int, recorded: Identity | None, spec: ProcessSpec) -> str | None:
    """None when `pid` is the service's process; else why it must not be adopted."""
    now = identify(pid)
    if now is None:
        return "no such process"
    if recorded is not None and recorded.pid == pid:
        if abs(now.start_time - recorded.start_time) > START_TIME_SLACK_S:
            return "started at another time than the process the daemon started (pid reused)"
        if not recorded.shell and now.cmdline != recorded.cmdline:
            return f"runs {' '.join(now.cmdline)[:200]!r}, not the command the daemon started"
        return None
    if spec.pid_file:
        try:
            written = os.stat(spec.pid_file).st_mtime
        except OSError:
            return "the pid file is gone"
        if now.start_time > written + PID_FILE_SLACK_S:
            return "started after its pid file was written (pid reused)"
    words = spec.command[0].split()
    program = os.path.basename(words[0]) if words and not spec.shell else ""
    if program and not any(program in os.path.basename(arg) or program in arg
                           for arg in now.cmdline[:2]):
        return f"runs {' '.join(now.cmdline)[:200]!r}, not {program!r}"
    return None
