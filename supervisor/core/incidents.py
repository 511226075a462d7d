"""Turns state changes into stored errors and transitions: one error per incident, updated
as recovery runs, closed with `recovered` and `recoveryTime` when the service is up again."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections import OrderedDict
from typing import Any

import psutil
from loguru import logger

from supervisor import __version__
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.events import Event
from supervisor.core.redaction import redact, redact_text
from supervisor.core.state import State, StateTracker
from supervisor.core.taxonomy import RECOVERY_FAILED, Classification, classify
from supervisor.store.database import Store

STARTED = time.time()


def new_error_id() -> str:
    """The SPEC's shape (SE_ + 8 hex). 32 bits do collide in a large store: the store then
    draws another id and writes it back into the row, where the caller reads it."""
    return "SE_" + secrets.token_hex(4)


def environment() -> dict[str, Any]:
    try:  # reads /proc: fails when the daemon is out of fds, which is worth storing too
        rss: int | None = psutil.Process().memory_info().rss
    except (psutil.Error, OSError):
        rss = None
    return {"version": __version__, "host": socket.gethostname(), "pid": os.getpid(),
            "rssBytes": rss, "uptimeS": round(time.time() - STARTED, 1)}


def error_row(c: Classification, service: str | None, message: str, *,
              correlation_id: str | None = None, check: str | None = None,
              context: dict[str, Any] | None = None, at: float | None = None,
              env: dict[str, Any] | None = None, source: str = "check",
              scrubbed: bool = False) -> dict[str, Any]:
    """A redacted error row ready for the store: every path that stores an error builds it
    here, so none can skip redaction. `source` says where it came from: check, push (a
    process exit, a missed heartbeat), daemon (its own failure), config, sdk or api.
    `scrubbed`: the context already went through supervisor/ingest/scrub.py, which masks
    everything `redact` does and more, so a second walk over a 50 KB event is spared."""
    now = at or time.time()
    ctx = {**(context or {}), "environment": env or environment()}
    ctx.setdefault("recoveries", [])
    return {"id": new_error_id(), "created_at": now, "updated_at": now, "type": c.type,
            "category": str(c.category), "level": str(c.level), "severity": str(c.severity),
            "service": service, "check_name": check, "message": redact_text(message),
            "correlation_id": correlation_id, "context": ctx if scrubbed else redact(ctx),
            "source": source}


def error_to_api(row: dict[str, Any], full: bool = False) -> dict[str, Any]:
    """A stored error row in the SPEC's shape (times in ms), with more fields when `full`."""
    out = {"id": row["id"], "type": row["type"], "severity": row["severity"],
           "service": row["service"], "message": row["message"],
           "recovered": bool(row["recovered"]), "recoveryTime": row["recovery_time_ms"],
           "category": row["category"], "level": row["level"], "status": row["status"],
           "check": row["check_name"], "correlationId": row["correlation_id"],
           "fingerprint": row.get("fingerprint"), "source": row.get("source") or "check",
           "release": row.get("release"),
           "timestamp": round(row["created_at"] * 1000)}
    if full:
        out["context"] = row["context"]
        out["updatedAt"] = round(row["updated_at"] * 1000)
    return out


class IncidentRecorder:
    def __init__(self, store: Store, tracker: StateTracker) -> None:
        self.store = store
        self.tracker = tracker
        # correlation id -> first error id; kept after the incident closes so that the
        # recovery summary, which arrives after the healthy transition, still finds it
        self._open: OrderedDict[str, str] = OrderedDict()

    async def on_event(self, event: Event) -> None:
        if event.type == "state_changed" and event.service:
            await self._state_changed(event)
        elif event.type == "recovery_finished" and event.correlation_id:
            await self._recovery_finished(event)
        elif event.type == "recovery_skipped" and event.correlation_id:
            await self._annotate(event.correlation_id, recoverySkipped=event.data.get("reason"),
                                 causedBy=event.data.get("causedBy"))

    def resume(self, correlation_id: str, error_id: str) -> None:
        """After a restart, an incident still open in the store goes on under its error."""
        self._open.setdefault(correlation_id, error_id)

    async def _state_changed(self, event: Event) -> None:
        d = event.data
        service = event.service or ""
        await self.store.insert_transition(event.at, service, d["previous"], d["state"],
                                           d.get("reason", ""), event.correlation_id)
        state, previous = State(d["state"]), State(d["previous"])
        if state is State.FAILING and event.correlation_id:
            result = d.get("result") or {}
            await self.record(service, event.correlation_id, _result_from_dict(result),
                              at=event.at, first_failure_at=d.get("firstFailureAt"))
        elif state is State.GAVE_UP and event.correlation_id:
            error_id = self._open.get(event.correlation_id)
            if error_id is not None:
                await self.store.update_error(error_id, recovery_failed=1)
            await self._insert(service, event.correlation_id, RECOVERY_FAILED,
                               f"gave up: {d.get('reason', '')}", None,
                               {"reason": d.get("reason"), "recovery": d.get("recovery")},
                               at=event.at, source="daemon")
        elif state.is_up and previous.is_down and event.correlation_id:
            await self._close(event.correlation_id, event.at, d.get("reason", ""))

    async def record(self, service: str, correlation_id: str, result: CheckResult,
                     at: float | None = None, first_failure_at: float | None = None) -> str:
        st = self.tracker.services.get(service)
        c = classify(result, critical_service=bool(st and st.critical))
        message = result.message or f"{service} is {result.kind}"
        error_id = await self._insert(service, correlation_id, c, message, result.check,
                                      {"result": result.to_dict(),
                                       # the incident timeline starts here
                                       "firstFailureAt": first_failure_at}, at=at,
                                      source="push" if result.details.get("signal") == "push"
                                      else "check")
        self._open.setdefault(correlation_id, error_id)
        while len(self._open) > 10_000:
            self._open.popitem(last=False)
        return error_id

    async def record_error(self, service: str, correlation_id: str, c: Classification,
                           message: str, context: dict[str, Any]) -> str:
        """An error no check result explains (a lapsed cluster node), stored and published
        like the others, opening the incident `correlation_id`."""
        error_id = await self._insert(service, correlation_id, c, message, None, context,
                                      source="daemon")
        self._open.setdefault(correlation_id, error_id)
        return error_id

    async def resolve(self, correlation_id: str, at: float, reason: str) -> None:
        """The incident is over: its errors are marked recovered, with the time it took."""
        await self._close(correlation_id, at, reason)

    async def _insert(self, service: str, correlation_id: str | None, c: Classification,
                      message: str, check: str | None, context: dict[str, Any],
                      at: float | None = None, source: str = "check") -> str:
        row = error_row(c, service, message, correlation_id=correlation_id, check=check,
                        context=context, at=at, source=source)
        await self.store.insert_error(row)
        error_id = str(row["id"])  # after the insert: a colliding id was replaced
        # For metrics (errors by category) and the event stream; no context: it can be large.
        self.tracker.bus.publish("error_recorded", service, correlation_id,
                                 error=error_to_api({**row, "recovered": 0,
                                                     "recovery_time_ms": None,
                                                     "status": "pending"}))
        logger.bind(correlation_id=correlation_id).warning(
            "error {} [{}/{}] {}: {}", error_id, c.category, c.severity, service, message)
        return error_id

    async def _close(self, correlation_id: str, at: float, reason: str) -> None:
        for row in await self.store.errors_for_incident(correlation_id):
            if row["recovered"]:
                continue
            ms = round((at - row["created_at"]) * 1000)
            await self.store.update_error(row["id"], recovered=1, recovery_time_ms=ms,
                                          status="resolved")

    async def _recovery_finished(self, event: Event) -> None:
        summary = {"id": event.data.get("id"), "status": event.data.get("status"),
                   "message": event.data.get("message"),
                   "requestedBy": event.data.get("requestedBy"),
                   "durationMs": event.data.get("durationMs"),
                   "attempts": event.data.get("attempts", [])}
        await self._annotate(event.correlation_id or "", append_recovery=summary)

    async def _annotate(self, correlation_id: str, append_recovery: dict[str, Any] | None = None,
                        **fields: Any) -> None:
        error_id = self._open.get(correlation_id)
        if error_id is None:
            return
        row = await self.store.get_error(error_id)
        if row is None:
            return
        context = row["context"]
        if append_recovery is not None:
            context.setdefault("recoveries", []).append(append_recovery)
        context.update({k: v for k, v in fields.items() if v is not None})
        await self.store.update_error(error_id, context=redact(context))


def _result_from_dict(d: dict[str, Any]) -> CheckResult:
    kind = d.get("kind", "unhealthy")
    try:
        k = CheckKind(kind)
    except ValueError:
        k = CheckKind.UNHEALTHY
    return CheckResult(kind=k, latency_ms=d.get("latencyMs", 0.0), message=d.get("message", ""),
                       check=d.get("check", ""), check_type=d.get("type", ""),
                       details=d.get("details", {}))
