"""The durable outbox: an alert is stored with one outbox row per channel before anything is
sent, and a row is deleted only when its channel accepted the message (or refused it for
good). Everything runs in the store's one thread, so reads and writes never interleave."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from supervisor.alerts.channels.base import Answer
from supervisor.alerts.message import Alert
from supervisor.core.redaction import redact
from supervisor.store.database import Store


@dataclass
class Pending:
    row_id: int
    alert: Alert
    channel: str
    created_at: float
    next_at: float
    attempts: int


class Outbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- writing ----------------------------------------------------------------------------
    async def add(self, alert: Alert, channels: list[str], delay: float,
                  status: str = "queued", reason: str = "",
                  holds: dict[str, float] | None = None) -> None:
        """Store the alert and queue it for `channels`, sendable `delay` seconds from now;
        `holds`: channels in quiet hours, and until when (a held row does not block the rows
        behind it, so a critical alert passes it)."""
        holds = holds or {}
        data = redact(alert.to_dict())

        def tx(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO alerts (id, created_at, kind, service, severity, correlation_id,"
                " status, reason, channels, alert) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (alert.id, alert.at, alert.kind, alert.service, alert.severity,
                 alert.correlation_id, status if channels or status != "queued"
                 else "no_channel", reason, json.dumps(channels), json.dumps(data)))
            for ch in channels:
                conn.execute("INSERT INTO alert_outbox (alert_id, channel, created_at, "
                             "next_at, held) VALUES (?,?,?,?,?)",
                             (alert.id, ch, alert.at, max(alert.at + delay, holds.get(ch, 0.0)),
                              ch in holds))
        await self.store.transaction(tx)

    async def batch(self, channel: str, horizon: float, limit: int) -> list[Pending]:
        """The oldest rows of `channel`, in order, that are due by `horizon`; [] if the oldest
        is not due yet (later rows wait behind it, so an incident's messages keep order)."""
        def q(conn: sqlite3.Connection) -> list[Pending]:
            rows = conn.execute(
                "SELECT o.id, o.channel, o.created_at, o.next_at, o.attempts, o.held, a.alert "
                "FROM alert_outbox o JOIN alerts a ON a.id = o.alert_id WHERE o.channel = ? "
                "AND (o.held = 0 OR o.next_at <= ?) ORDER BY o.id LIMIT ?",
                (channel, horizon, limit)).fetchall()
            out = []
            for r in rows:
                if r["next_at"] > horizon:
                    break
                out.append(Pending(r["id"], Alert.from_dict(json.loads(r["alert"])),
                                   r["channel"], r["created_at"], r["next_at"], r["attempts"]))
            return out
        return await self.store.run(q)

    async def head_due(self, channel: str) -> float | None:
        """When the oldest row of `channel` may be sent (None: nothing queued)."""
        def q(conn: sqlite3.Connection) -> float | None:
            head = conn.execute("SELECT next_at FROM alert_outbox WHERE channel = ? AND held = 0"
                                " ORDER BY id LIMIT 1", (channel,)).fetchone()
            held = conn.execute("SELECT MIN(next_at) FROM alert_outbox WHERE channel = ? AND "
                                "held = 1", (channel,)).fetchone()
            times = [float(r[0]) for r in (head, held) if r is not None and r[0] is not None]
            return min(times) if times else None
        return await self.store.run(q)

    async def settle(self, batch: list[Pending], answer: Answer, outcome: str,
                     next_at: float | None = None) -> None:
        """Record one delivery attempt of `batch`: delivered / failed (rows go) or retry."""
        now = time.time()

        def tx(conn: sqlite3.Connection) -> None:
            for p in batch:
                conn.execute("INSERT INTO alert_deliveries (at, alert_id, channel, outcome, "
                             "http_status, detail, latency_ms) VALUES (?,?,?,?,?,?,?)",
                             (now, p.alert.id, p.channel, outcome, answer.status,
                              answer.describe()[:500], round(answer.latency_ms, 1)))
                if outcome == "retry":
                    conn.execute("UPDATE alert_outbox SET attempts = attempts + 1, "
                                 "next_at = ?, last_error = ? WHERE id = ?",
                                 (next_at, answer.describe()[:500], p.row_id))
                    continue
                conn.execute("DELETE FROM alert_outbox WHERE id = ?", (p.row_id,))
                left = conn.execute("SELECT COUNT(*) FROM alert_outbox WHERE alert_id = ?",
                                    (p.alert.id,)).fetchone()[0]
                if left == 0:
                    failed = conn.execute(
                        "SELECT COUNT(*) FROM alert_deliveries WHERE alert_id = ? AND "
                        "outcome = 'failed'", (p.alert.id,)).fetchone()[0]
                    conn.execute("UPDATE alerts SET status = ? WHERE id = ?",
                                 ("failed" if failed else "sent", p.alert.id))
        await self.store.transaction(tx)

    # -- reading ----------------------------------------------------------------------------
    async def depth(self) -> dict[str, dict[str, Any]]:
        """Per channel: rows waiting, the oldest one's age, and its last error."""
        def q(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            out: dict[str, dict[str, Any]] = {}
            for r in conn.execute(
                    "SELECT channel, COUNT(*) AS n, MIN(created_at) AS oldest, "
                    "MAX(attempts) AS attempts FROM alert_outbox GROUP BY channel"):
                out[r["channel"]] = {"depth": r["n"], "oldestAt": r["oldest"],
                                     "attempts": r["attempts"]}
            return out
        return await self.store.run(q)

    async def total(self) -> int:
        def q(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT COUNT(*) FROM alert_outbox").fetchone()[0])
        return await self.store.run(q)

    async def incident_alerts(self, correlation_id: str) -> list[Alert]:
        """The alerts of one incident that went (or are going) to a channel, oldest first."""
        def q(conn: sqlite3.Connection) -> list[Alert]:
            rows = conn.execute(
                "SELECT alert FROM alerts WHERE correlation_id = ? AND status IN "
                "('sent', 'queued', 'failed') ORDER BY created_at, rowid",
                (correlation_id,)).fetchall()
            return [Alert.from_dict(json.loads(r["alert"])) for r in rows]
        return await self.store.run(q)

    async def list_alerts(self, since: float, limit: int = 100,
                          service: str | None = None) -> list[dict[str, Any]]:
        def q(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = "SELECT * FROM alerts WHERE created_at >= ?"
            args: list[Any] = [since]
            if service:
                sql += " AND service = ?"
                args.append(service)
            sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
            args.append(limit)
            rows = [dict(r) for r in conn.execute(sql, args)]
            for r in rows:
                r["deliveries"] = [dict(d) for d in conn.execute(
                    "SELECT at, channel, outcome, http_status, detail, latency_ms FROM "
                    "alert_deliveries WHERE alert_id = ? ORDER BY id", (r["id"],))]
            return rows
        return await self.store.run(q)


def alert_to_api(row: dict[str, Any]) -> dict[str, Any]:
    alert = json.loads(row["alert"])
    return {"id": row["id"], "kind": row["kind"], "service": row["service"],
            "severity": row["severity"], "correlationId": row["correlation_id"],
            "status": row["status"], "reason": row["reason"] or None,
            "channels": json.loads(row["channels"]), "title": Alert.from_dict(alert).title,
            "summary": alert.get("summary"), "timestamp": round(row["created_at"] * 1000),
            "deliveries": [{"at": round(d["at"] * 1000), "channel": d["channel"],
                            "outcome": d["outcome"], "httpStatus": d["http_status"],
                            "detail": d["detail"], "latencyMs": d["latency_ms"]}
                           for d in row.get("deliveries", [])]}
