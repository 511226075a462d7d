"""One recovery run as the API, the store and the event stream see it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

# Output of a strategy kept per attempt (the tail: where the error usually is).
OUTPUT_LIMIT = 2000


class RecoveryRefused(Exception):
    """The request cannot be served (not applicable to the service); the text says why."""


@dataclass
class RecoveryRun:
    id: str
    service: str
    action: str
    requested_by: str
    force: bool = False
    dry_run: bool = False
    status: str = "queued"  # queued running succeeded failed skipped dry_run interrupted done
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    correlation_id: str | None = None
    message: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)
    detected_at: float | None = None  # when the failure this run answers was declared

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.created_at) * 1000)

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "service": self.service, "action": self.action,
                "requested_by": self.requested_by, "force": int(self.force),
                "dry_run": int(self.dry_run), "status": self.status,
                "created_at": self.created_at, "finished_at": self.finished_at,
                "duration_ms": self.duration_ms, "correlation_id": self.correlation_id,
                "message": self.message, "attempts": self.attempts, "plan": self.plan,
                "detected_at": self.detected_at}


def recovery_to_api(row: dict[str, Any]) -> dict[str, Any]:
    """A stored recovery row in the API's camelCase shape."""
    detected = row.get("detected_at")
    attempts = row["attempts"] or []
    first = attempts[0].get("startedAt") if attempts else None
    return {"id": row["id"], "service": row["service"], "action": row["action"],
            "requestedBy": row["requested_by"], "force": bool(row["force"]),
            "dryRun": bool(row["dry_run"]), "status": row["status"],
            "createdAt": row["created_at"], "finishedAt": row["finished_at"],
            "durationMs": row["duration_ms"], "correlationId": row["correlation_id"],
            "message": row["message"], "attempts": attempts, "plan": row["plan"],
            "detectedAt": detected,
            "actionDelayMs": round((first - detected) * 1000)
            if detected is not None and first is not None else None}


def utc_clock(at: float | None) -> str:
    """A wall time as operators read it in messages."""
    if at is None:
        return "?"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))
