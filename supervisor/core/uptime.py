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


# state -> slot in a bucket's [up-healthy, up-degraded, down, maintenance, unknown] seconds
_SLOT = {str(State.HEALTHY): 0, str(State.DEGRADED): 1, str(State.FAILING): 2,
         str(State.RECOVERING): 2, str(State.GAVE_UP): 2, str(State.MAINTENANCE): 3,
         str(State.UNKNOWN): 4}


def state_buckets(transitions: list[dict[str, Any]], since: float, until: float,
                  bucket_s: float) -> list[dict[str, Any]]:
    """One service's seconds in each state per bucket of [since, until), oldest first, from
    its transitions (the last one before `since` gives its starting state). A bucket's
    `uptime` is up time over counted time (None when nothing was counted: not checked yet or
    all maintenance); `state` is the worst state it saw, so one outage makes a red bar."""
    start0 = since - since % bucket_s
    n = max(1, int((until - start0 + bucket_s - 1e-9) // bucket_s))
    spans = [[0.0, 0.0, 0.0, 0.0, 0.0] for _ in range(n)]
    rows = sorted(transitions, key=lambda r: (r["at"], r.get("id", 0)))
    for i, row in enumerate(rows):
        begin = max(row["at"], start0)
        end = min(rows[i + 1]["at"] if i + 1 < len(rows) else until, until)
        slot = _SLOT.get(str(row["state"]), 4)
        while begin < end:
            k = int((begin - start0) // bucket_s)
            if k >= n:
                break
            stop = min(end, start0 + (k + 1) * bucket_s)
            spans[k][slot] += stop - begin
            begin = stop
    out = []
    for k, (healthy, degraded, down, maintenance, unknown) in enumerate(spans):
        up = healthy + degraded
        counted = up + down
        worst = ("down" if down > 0 else "degraded" if degraded > 0 else
                 "up" if up > 0 else "maintenance" if maintenance > 0 else "unknown")
        out.append({"start": start0 + k * bucket_s, "upS": round(up, 1),
                    "downS": round(down, 1), "degradedS": round(degraded, 1),
                    "maintenanceS": round(maintenance, 1), "unknownS": round(unknown, 1),
                    "state": worst,
                    "uptime": round(100.0 * up / counted, 3) if counted > 0 else None})
    return out
