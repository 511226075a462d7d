"""The whole platform's status in one word and the SPEC's health body, for the API and CLI."""

from __future__ import annotations

import time
from typing import Any

from supervisor.core.state import ServiceState, State, StateTracker
from supervisor.core.uptime import uptime_percent
from supervisor.store.database import Store


def overall_status(states: list[ServiceState]) -> str:
    """critical: a critical service (or most services) down; degraded: anything not healthy."""
    counted = [s for s in states if s.state not in (State.UNKNOWN, State.MAINTENANCE)]
    down = [s for s in counted if s.state.is_down]
    if any(s.critical for s in down) or (counted and len(down) * 2 > len(counted)):
        return "critical"
    if down or any(s.state is State.DEGRADED for s in counted):
        return "degraded"
    return "healthy"


async def health_payload(tracker: StateTracker, store: Store, *, uptime_window_h: float,
                         started_at: float, alert_delivery: str,
                         monitoring: dict[str, Any]) -> dict[str, Any]:
    """`monitoring`: whether the checks themselves run (the self-watch's stall verdict)."""
    states = list(tracker.services.values())
    now = time.time()
    window = uptime_window_h * 3600
    transitions = await store.transitions(now - window)
    uptime = uptime_percent(transitions, now - window, now, {s.name for s in states})
    # Stalled checks make every state above stale: say so, and let load balancers see it.
    status = "critical" if monitoring["status"] != "ok" else overall_status(states)
    return {
        "status": status,
        "monitoring": monitoring,
        "services": {s.name: {"status": str(s.state),
                              "responseTime": _ms(s.response_time_ms)} for s in states},
        "recentErrors": await store.count_errors(now - 3600),
        "autoRecoveries": await store.count_recoveries(now - window, "succeeded",
                                                       requested_by="auto"),
        "uptime": f"{uptime:.1f}%",
        "checkedAt": round(now * 1000),
        "daemonUptime": round(now - started_at),
        "alertDelivery": alert_delivery,
    }


def _ms(value: float | None) -> int | None:
    return None if value is None else round(value)
