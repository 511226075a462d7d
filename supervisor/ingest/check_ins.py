"""Sentry Crons check-ins (`sentry_sdk.crons.monitor`, `Sentry.withMonitor`) drive the
service's `heartbeat` check: `in_progress` starts a job, `ok` finishes it, `error` fails it at
once; a check-in that never comes is a missed heartbeat, a job running past the heartbeat's
`maxRuntime` is stalled. The schedule the SDK sends is kept for the status view.
"""

from __future__ import annotations

from typing import Any, Protocol

from supervisor.ingest.limits import IngestError

STATUSES = ("in_progress", "ok", "error")


class JobBoard(Protocol):
    """What check-ins need of the heartbeat board (supervisor/push/board.py)."""

    expected: dict[str, Any]

    def start_job(self, service: str, counters: dict[str, float] | None = None) -> Any: ...

    def finish_job(self, service: str, ok: bool = True, message: str | None = None,
                   counters: dict[str, float] | None = None) -> Any: ...


def parse_check_in(payload: dict[str, Any]) -> dict[str, Any]:
    status = payload.get("status")
    if status not in STATUSES:
        raise IngestError(400, f"check_in status must be one of {', '.join(STATUSES)}",
                          "malformed")
    slug = payload.get("monitor_slug")
    if not isinstance(slug, str) or not slug:
        raise IngestError(400, "check_in needs a monitor_slug", "malformed")
    duration = payload.get("duration")
    config = payload.get("monitor_config")
    return {"status": status, "slug": slug[:200],
            "duration": float(duration) if isinstance(duration, int | float) else None,
            "config": config if isinstance(config, dict) else None}


class CheckIns:
    def __init__(self, board: JobBoard) -> None:
        self.board = board
        self.monitors: dict[str, dict[str, Any]] = {}  # service -> its last check-in
        self.unwatched = 0  # check-ins of services without a heartbeat check

    def apply(self, service: str, c: dict[str, Any]) -> None:
        self.monitors[service] = {k: v for k, v in c.items() if v is not None}
        if service not in self.board.expected:
            self.unwatched += 1
            return
        if c["status"] == "in_progress":
            self.board.start_job(service)
        else:
            took = f" after {c['duration']:.1f} s" if c["duration"] is not None else ""
            self.board.finish_job(service, ok=c["status"] == "ok",
                                  message=f"cron monitor {c['slug']} reported error{took}")

    def to_dict(self) -> dict[str, Any]:
        return {"monitors": self.monitors, "unwatched": self.unwatched}
