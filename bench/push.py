"""Scenario 7 (soulfra-supervisor only): detection through push signals.

Time from a service's death to the daemon's `failing` state, through an MQTT last-will and
through a missed heartbeat. Needs the heartbeat and last-will check types (issue 3); where this
checkout has none, the scenario says "not measured" and why, instead of guessing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import health_checks

from bench.procs import Reaper

NEEDED = ("heartbeat", "mqtt_last_will")


def available() -> list[str]:
    return [n for n in NEEDED if n in health_checks.registry.names()]


def run(reaper: Reaper, workdir: Path, repeat: int, bound_s: float) -> dict[str, Any]:
    have = available()
    if not have:
        return {"not_measured": "this checkout has no heartbeat or MQTT last-will check types "
                                "(issue 3 had not landed them on main)"}
    raise NotImplementedError(f"push detection with {have} is not written yet")
