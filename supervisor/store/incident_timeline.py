"""One incident (a correlation id) on one time axis: the first failed check, the declaration,
each recovery attempt with what ran and its output, each alert and its deliveries per channel,
acknowledgements, the people's updates, and the recovery; with the downtime and repair time.

Everything is read from the store in its thread (errors, transitions, recoveries, alerts,
alert_deliveries, incident_updates all carry the correlation id). Times out are ms.
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

UPDATE_STATUSES = ("investigating", "identified", "monitoring", "resolved", "update")
UP_STATES = ("healthy", "degraded")


def _ms(t: float | None) -> int | None:
    return round(t * 1000) if t is not None else None


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sql, args)]


def load(conn: sqlite3.Connection, cid: str) -> dict[str, Any] | None:
    """The incident `cid`, or None when the store knows nothing of it."""
    errors = _rows(conn, "SELECT * FROM errors WHERE correlation_id = ? ORDER BY created_at", cid)
    transitions = _rows(conn, "SELECT * FROM transitions WHERE correlation_id = ? ORDER BY id",
                        cid)
    if not errors and not transitions:
        return None
    recoveries = _rows(conn, "SELECT * FROM recoveries WHERE correlation_id = ? AND dry_run = 0 "
                             "ORDER BY created_at", cid)
    alerts = _rows(conn, "SELECT * FROM alerts WHERE correlation_id = ? ORDER BY created_at",
                   cid)
    for a in alerts:
        a["deliveries"] = _rows(conn, "SELECT * FROM alert_deliveries WHERE alert_id = ? "
                                      "ORDER BY id", a["id"])
    updates = _rows(conn, "SELECT * FROM incident_updates WHERE correlation_id = ? ORDER BY at",
                    cid)
    # issue 17's acknowledgements, when this store has them (their table comes with them)
    acks = _rows(conn, "SELECT * FROM incident_acks WHERE incident_id = ?", cid) \
        if _has_table(conn, "incident_acks") else []
    return build(cid, errors, transitions, recoveries, alerts, updates, acks)


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (name,)).fetchone() is not None


def build(cid: str, errors: list[dict[str, Any]], transitions: list[dict[str, Any]],
          recoveries: list[dict[str, Any]], alerts: list[dict[str, Any]],
          updates: list[dict[str, Any]], acks: list[dict[str, Any]] | None = None,
          ) -> dict[str, Any]:
    items: list[dict[str, Any]] = []

    def add(at: float | None, kind: str, text: str, **extra: Any) -> None:
        if at is not None:
            items.append({"at": _ms(at), "kind": kind, "text": text, **extra})

    first_error = errors[0] if errors else None
    context = json.loads(first_error["context"]) if first_error else {}
    declared = next((t["at"] for t in transitions if t["state"] == "failing"),
                    first_error["created_at"] if first_error else None)
    first_failure = context.get("firstFailureAt") or declared
    result = context.get("result") or {}
    add(first_failure, "first_failure", f"first failed check: {result.get('check') or '?'}"
        f" ({result.get('kind') or 'failed'}) {result.get('message') or ''}".strip(),
        check=result.get("check"))
    for t in transitions:
        kind = ("declared" if t["state"] == "failing" and t["at"] == declared else
                "recovered" if t["state"] in UP_STATES else "state")
        add(t["at"], kind, f"{t['previous']} → {t['state']}"
            + (f": {t['reason']}" if t["reason"] else ""), state=t["state"])
    for e in errors:
        add(e["created_at"], "error", f"error {e['id']} [{e['category']}]: {e['message']}",
            errorId=e["id"], fingerprint=e.get("fingerprint"))
    attempts_total = 0
    for r in recoveries:
        add(r["created_at"], "recovery_started",
            f"recovery {r['id']} ({r['action']}) requested by {r['requested_by']}",
            recoveryId=r["id"])
        for a in json.loads(r["attempts"] or "[]"):
            attempts_total += 1
            add(a.get("startedAt"), "attempt",
                f"{a.get('strategy')} attempt {a.get('attempt')}: "
                f"{'ok' if a.get('ok') else 'failed'} — {a.get('message') or ''}",
                recoveryId=r["id"], strategy=a.get("strategy"), attempt=a.get("attempt"),
                ok=bool(a.get("ok")), ran=a.get("ran"), output=a.get("output") or "",
                durationMs=a.get("durationMs"))
        add(r["finished_at"], "recovery_finished",
            f"recovery {r['id']} {r['status']}: {r['message']}", recoveryId=r["id"],
            status=r["status"], durationMs=r["duration_ms"])
    for a in alerts:
        add(a["created_at"], "alert", f"alert {a['kind']} ({a['status']}) to "
            f"{', '.join(json.loads(a['channels'] or '[]')) or 'no channel'}",
            alertId=a["id"], alertKind=a["kind"])
        for d in a["deliveries"]:
            add(d["at"], "delivery", f"{d['channel']}: {d['outcome']}"
                + (f" (HTTP {d['http_status']})" if d["http_status"] else "")
                + (f" {d['detail']}" if d["detail"] else ""),
                channel=d["channel"], outcome=d["outcome"], alertId=a["id"])
    for k in acks or []:
        add(k.get("at"), "acknowledged", f"acknowledged by {k.get('by') or '?'} via "
            f"{k.get('via') or '?'}" + (f": {k['comment']}" if k.get("comment") else ""),
            by=k.get("by"), via=k.get("via"))
    for u in updates:
        add(u["at"], "update", f"{u['status']}: {u['message']}", status=u["status"],
            author=u["author"])
    items.sort(key=lambda i: (i["at"], _ORDER.get(i["kind"], 5)))
    recovered = next((t["at"] for t in reversed(transitions) if t["state"] in UP_STATES
                      and t["previous"] not in UP_STATES), None)
    service = (first_error or transitions[0])["service"]
    return {
        "id": cid, "service": service, "status": "resolved" if recovered else "open",
        "title": f"{service}: {first_error['message']}" if first_error else service,
        "firstFailureAt": _ms(first_failure), "declaredAt": _ms(declared),
        "recoveredAt": _ms(recovered),
        # from the first failed check to up again; from the declaration to up again
        "downtimeMs": _ms(recovered - first_failure) if recovered and first_failure else None,
        "repairMs": _ms(recovered - declared) if recovered and declared else None,
        "openForMs": _ms(time.time() - first_failure) if not recovered and first_failure
        else None,
        "attempts": attempts_total, "recoveries": [r["id"] for r in recoveries],
        "errors": [e["id"] for e in errors], "alerts": [a["id"] for a in alerts],
        "updates": [update_to_api(u) for u in updates], "timeline": items,
        "acknowledgedAt": _ms((acks or [{}])[0].get("at")),
    }


# same instant: a cause before its effect
_ORDER = {"first_failure": 0, "declared": 1, "error": 2, "alert": 3, "recovery_started": 3,
          "attempt": 4, "delivery": 4, "recovery_finished": 6, "recovered": 7}


def update_to_api(u: dict[str, Any]) -> dict[str, Any]:
    return {"at": _ms(u["at"]), "status": u["status"], "message": u["message"],
            "author": u["author"]}


def add_update(conn: sqlite3.Connection, cid: str, status: str, message: str,
               author: str) -> dict[str, Any]:
    at = time.time()
    conn.execute("INSERT INTO incident_updates (correlation_id, at, status, message, author) "
                 "VALUES (?, ?, ?, ?, ?)", (cid, at, status, message, author))
    return {"at": _ms(at), "status": status, "message": message, "author": author}


def known(conn: sqlite3.Connection, cid: str) -> bool:
    return conn.execute("SELECT 1 FROM errors WHERE correlation_id = ? UNION ALL SELECT 1 "
                        "FROM transitions WHERE correlation_id = ? LIMIT 1",
                        (cid, cid)).fetchone() is not None


def recent(conn: sqlite3.Connection, since: float, services: list[str] | None = None,
           limit: int = 100) -> list[dict[str, Any]]:
    """Incidents that started since `since` (newest first), each with its first error, when it
    recovered and the people's updates; what a list or the status page needs."""
    # An incident is a service that went down: its correlation id is on a transition. Errors
    # the services report themselves carry their trace id there instead (issue 12); a trace
    # is not an incident and must not reach the list or the public status page.
    sql = ("SELECT correlation_id, MIN(created_at) AS started, MAX(recovered) AS recovered, "
           "MAX(recovery_time_ms) AS recovery_ms FROM errors "
           "WHERE correlation_id IS NOT NULL AND created_at >= ? AND EXISTS (SELECT 1 FROM "
           "transitions t WHERE t.correlation_id = errors.correlation_id)")
    args: list[Any] = [since]
    if services is not None:
        sql += f" AND service IN ({', '.join('?' for _ in services)})"
        args.extend(services)
    sql += " GROUP BY correlation_id ORDER BY started DESC LIMIT ?"
    out = []
    for r in _rows(conn, sql, *args, limit):
        ups = _rows(conn, "SELECT * FROM incident_updates WHERE correlation_id = ? ORDER BY at",
                    r["correlation_id"])
        first = conn.execute("SELECT service, message FROM errors WHERE correlation_id = ? "
                             "ORDER BY created_at LIMIT 1", (r["correlation_id"],)).fetchone()
        out.append({"id": r["correlation_id"], "service": first["service"],
                    "startedAt": _ms(r["started"]), "message": first["message"],
                    "status": "resolved" if r["recovered"] else "open",
                    "recoveredAt": _ms(r["started"] + r["recovery_ms"] / 1000)
                    if r["recovered"] and r["recovery_ms"] is not None else None,
                    "repairMs": r["recovery_ms"],
                    "updates": [update_to_api(u) for u in ups]})
    return out
