"""The zoo: every fault, by family (one module each). `ALL` keeps a stable order; `QUICK` is
what `soulfra-supervisor selftest` runs by default."""

from __future__ import annotations

from supervisor.selftest.catalogue import files, postgres, process, servers, signals
from supervisor.selftest.faults import Fault

ALL: list[Fault] = [*process.FAULTS, *files.FAULTS, *servers.FAULTS, *postgres.FAULTS,
                    *signals.FAULTS]
QUICK: list[Fault] = [f for f in ALL if f.quick]


def by_name(names: list[str]) -> list[Fault]:
    """The faults named (in the catalogue's order); an unknown name raises KeyError naming it."""
    known = {f.name: f for f in ALL}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(known)}")
    return [f for f in ALL if f.name in names]
