"""What a fault of the zoo is: how it is set up and injected, what the daemon should make of
it, and how "healed" is decided. The catalogue (catalogue.py) is a list of these; the runner
(runner.py) and the bench's zoo run them without knowing any fault by name.

A fault is data plus one function, `setup(lab) -> Setup`: it is given a `Lab` (a folder, free
ports, the throwaway service's command line, helper processes) and returns the services.json
entries it needs, the one service it hits (`target`), and `inject` (done for real: a signal,
a request to the service, a file changed). Everything a fault starts goes through the lab,
which stops it by pid at the end.

Outcomes: `heal` (the daemon repairs it with `strategy`), `degrade` (it must be shown as
degraded and *not* acted on; the runner undoes the fault afterwards), `alert` (by design a
human's: detected and stored as an error, nothing restarted), `flap` (injected again after
every repair: the breaker must open, and close by itself once the fault is undone).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from supervisor.selftest.lab import Lab

Outcome = Literal["heal", "degrade", "alert", "flap"]


@dataclass
class Setup:
    """What a fault's setup returns: its services and how to hurt them."""

    services: dict[str, dict[str, Any]]
    target: str
    inject: Callable[[], None]
    # Extra condition of "healed" beyond the daemon saying healthy (e.g. the disk has room).
    healed: Callable[[], bool] | None = None
    # For `degrade` faults: put things back once the daemon has shown the fault.
    undo: Callable[[], None] | None = None
    # Services the daemon may act on for this fault (default: the target alone). An acting
    # recovery of any other service is a harmful action.
    may_act_on: set[str] | None = None
    # Dependents that must be seen held back (a recovery skipped while waiting for the
    # dependency), not merely left alone.
    held: set[str] = field(default_factory=set)
    # Harm only the fault can see (a file outside the configured paths deleted): its names.
    harm: Callable[[], list[str]] | None = None
    # The fault is there from the daemon's start (inject does nothing): it is measured from
    # then, and the service counts as ready when degraded.
    present_at_start: bool = False
    # The service whose recovery heals the fault, when it is not the target (a leaking
    # client restarted for a database it starves): "healed by" is read from its recoveries.
    healer: str | None = None
    # The same watch as a Monit control-file block ("check process ..."), or None when Monit
    # has no equivalent; bench/ runs it against Monit in the same run.
    monit: str | None = None

    def acted_ok(self) -> set[str]:
        return self.may_act_on if self.may_act_on is not None else {self.target}


@dataclass(frozen=True)
class Fault:
    name: str
    what: str                        # how it is injected, one line for the table and --list
    detect: tuple[str, ...]          # error categories (or types, or "degraded") that count
    strategy: str | None             # the strategy that should heal it (None: no action)
    setup: Callable[[Lab], Setup]
    outcome: Outcome = "heal"
    needs: tuple[str, ...] = ()      # see missing(): "root", a binary, "python:<module>"
    quick: bool = False              # part of `soulfra-supervisor selftest`'s default run
    max_actions: int | None = None   # acting attempts allowed (e.g. 1: no restart while booting)
    bound_s: float | None = None     # its own bound to heal (default: the run's)

    def missing(self) -> str | None:
        """Why this fault cannot run here, or None."""
        for need in self.needs:
            why = missing_need(need)
            if why:
                return why
        return None


def missing_need(need: str) -> str | None:
    if need == "root":
        return None if os.geteuid() == 0 else "needs root (to mount a small tmpfs)"
    if need == "postgres-user":  # as root, PostgreSQL runs as this user (it refuses root)
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None if os.geteuid() != 0 else "needs a postgres user to run PostgreSQL as"
        return None
    if need.startswith("python:"):
        module = need.removeprefix("python:")
        return None if importlib.util.find_spec(module) else f"needs the Python module {module}"
    if need == "docker":
        return None if os.path.exists("/var/run/docker.sock") and shutil.which("docker") \
            else "needs a running Docker (no /var/run/docker.sock)"
    return None if find_binary(need) else f"needs {need} (not found on PATH)"


# Where distributions put server binaries outside PATH (PostgreSQL's are versioned).
EXTRA_BIN = ("/usr/sbin", "/usr/local/sbin", "/usr/lib/postgresql/*/bin")


def find_binary(name: str) -> str | None:
    import glob

    found = shutil.which(name)
    if found:
        return found
    for pattern in EXTRA_BIN:
        for folder in sorted(glob.glob(pattern), reverse=True):
            path = os.path.join(folder, name)
            if os.access(path, os.X_OK):
                return path
    return None
