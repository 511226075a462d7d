"""What the daemon's own API says happened after a fault: when it was detected and as what,
which recovery healed it, and which actions were harmful. Pure functions of the API's answers
(GET /api/monitoring/services/{name}), so they are tested without a daemon.

Times are epoch seconds; the API gives transitions and errors in epoch milliseconds and
recoveries in epoch seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DOWN = ("failing", "recovering", "gave_up", "degraded")
# Attempts of these strategies change nothing: checking again is not an action.
PASSIVE = ("retry_failed",)


@dataclass
class Row:
    """One fault's result: a line of the table."""

    fault: str
    verdict: str = "fail"              # pass, fail, skipped
    detected_as: str = ""              # e.g. "process_exited (PROCESS_EXITED)"
    healed_by: str = ""                # e.g. "restart_command"
    detect_s: float | None = None      # injection → the daemon declared it
    healthy_s: float | None = None     # injection → healthy again
    actions: int = 0                   # acting attempts on the fault's services
    harmful: list[str] = field(default_factory=list)
    not_held: list[str] = field(default_factory=list)  # dependents not seen waiting
    why: str = ""                      # why it failed or was skipped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def detection(service: dict[str, Any], since: float) -> tuple[float, str] | None:
    """(when, to which state) of the first transition away from healthy after `since`."""
    for t in sorted(service.get("transitions", []), key=lambda t: t["at"]):
        if t["at"] / 1000 >= since and t["to"] in DOWN:
            return t["at"] / 1000, str(t["to"])
    return None


def detected_as(service: dict[str, Any], since: float) -> str:
    """The kind (and category) the daemon gave the fault: its stored error, or for a degraded
    service (which stores none) the first degraded check result."""
    errors = [e for e in service.get("recentErrors", []) if e["timestamp"] / 1000 >= since]
    if errors:
        first = min(errors, key=lambda e: e["timestamp"])
        return f"{first['type']} ({first['category']})"
    for r in sorted(service.get("lastResults", []), key=lambda r: r["at"]):
        if r["at"] / 1000 >= since and r["kind"] != "healthy":
            return str(r["kind"])
    found = detection(service, since)
    return found[1] if found else ""


def matches(label: str, wanted: tuple[str, ...]) -> bool:
    """Whether "type (CATEGORY)" (or "degraded") names one of `wanted` types or categories."""
    return any(word.strip("()") in wanted for word in label.split())


def healthy_after(service: dict[str, Any], when: float) -> bool:
    """Healthy now, by a transition later than `when`."""
    if service.get("status") != "healthy":
        return False
    return any(t["at"] / 1000 > when and t["to"] == "healthy"
               for t in service.get("transitions", []))


def recoveries(service: dict[str, Any], since: float) -> list[dict[str, Any]]:
    """Every recovery of the service created after `since` (in memory and stored, once)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in service.get("storedRecoveries", []) + service.get("recentRecoveries", []):
        if r["createdAt"] >= since and not r.get("dryRun"):
            seen[r["id"]] = r
    return sorted(seen.values(), key=lambda r: r["createdAt"])


def acting_attempts(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for r in runs for a in (r.get("attempts") or [])
            if a.get("strategy") not in PASSIVE]


def healed_by(runs: list[dict[str, Any]]) -> str:
    """The strategy of the attempt that ended the last succeeded recovery."""
    done = [r for r in runs if r["status"] == "succeeded" and r.get("attempts")]
    if not done:
        return ""
    return str(done[-1]["attempts"][-1]["strategy"])


def harmful(by_service: dict[str, list[dict[str, Any]]], allowed: set[str]) -> list[str]:
    """Acting recoveries of services the fault did not allow to be acted on."""
    out = []
    for name, runs in by_service.items():
        if name in allowed:
            continue
        for a in acting_attempts(runs):
            out.append(f"{a['strategy']} on {name} (not at fault)")
    return out


def waited(runs: list[dict[str, Any]]) -> bool:
    """A recovery of the service was skipped because a dependency was down."""
    return any(r["status"] == "skipped" and "dependency" in (r.get("message") or "")
               for r in runs)
