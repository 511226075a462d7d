"""Uptime as the share of *time* the services were up, from their stored transitions."""

from __future__ import annotations

from typing import Any

from supervisor.core.state import State

# Time in these states is left out of the denominator: nobody knows, or it was planned.
NOT_COUNTED = {State.UNKNOWN, State.MAINTENANCE}


def uptime_percent(transitions: list[dict[str, Any]], window_start: float, now: float,
                   services: set[str]) -> float:
    """Up time / counted time over [window_start, now], summed over `services`."""
    by_service: dict[str, list[dict[str, Any]]] = {}
    for t in transitions:
        if t["service"] in services:
            by_service.setdefault(t["service"], []).append(t)
    up = counted = 0.0
    for rows in by_service.values():
        rows.sort(key=lambda r: (r["at"], r.get("id", 0)))
        for i, row in enumerate(rows):
            start = max(row["at"], window_start)
            end = rows[i + 1]["at"] if i + 1 < len(rows) else now
            end = min(max(end, window_start), now)
            span = max(0.0, end - start)
            state = State(row["state"])
            if state in NOT_COUNTED:
                continue
            counted += span
            if state.is_up:
                up += span
    return 100.0 if counted <= 0 else 100.0 * up / counted
