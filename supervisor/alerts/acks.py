"""Acknowledgements: someone said "I'm on it" for an incident. Reminders and escalation stop;
the "recovered" message still goes out. Who, when and how (api, cli, link) are stored.

Each paging message carries a one-click link when `publicUrl` is set:
`{publicUrl}/api/monitoring/incidents/{id}/ack?sig=EXPIRES.NONCE.MAC`, MAC an HMAC-SHA256 over
the incident, the expiry and the nonce with a key the daemon draws once and keeps in its store.
Opening it (GET) shows a page with one button, so a mail scanner that follows links
acknowledges nothing; pressing it (POST) acknowledges, once: the nonce is then spent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
from typing import Any
from urllib.parse import quote

from supervisor.store.database import Store

VIAS = ("api", "cli", "link", "dashboard")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class Acks:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._key = b""
        self.by_incident: dict[str, dict[str, Any]] = {}

    async def load(self, since_s: float = 30 * 86400) -> None:
        def q(conn: sqlite3.Connection) -> tuple[bytes, dict[str, dict[str, Any]]]:
            row = conn.execute("SELECT value FROM alert_keys WHERE name = 'ack'").fetchone()
            if row is None:
                key = secrets.token_hex(32)
                conn.execute("INSERT OR IGNORE INTO alert_keys (name, value) VALUES ('ack', ?)",
                             (key,))
                row = conn.execute("SELECT value FROM alert_keys WHERE name = 'ack'").fetchone()
            acks = {r["incident_id"]: dict(r) for r in conn.execute(
                "SELECT * FROM incident_acks WHERE at > ?", (time.time() - since_s,))}
            return bytes.fromhex(row["value"]), acks
        self._key, self.by_incident = await self.store.transaction(q)

    def get(self, incident: str) -> dict[str, Any] | None:
        return self.by_incident.get(incident)

    def acked(self, incident: str | None) -> bool:
        return bool(incident) and incident in self.by_incident

    async def ack(self, incident: str, service: str, by: str, via: str,
                  comment: str = "") -> tuple[dict[str, Any], bool]:
        """Record the acknowledgement; (the record, whether it was new)."""
        existing = self.by_incident.get(incident)
        if existing is not None:
            return existing, False
        row = {"incident_id": incident, "service": service, "at": time.time(),
               "by": by[:200], "via": via, "comment": comment[:2000]}

        def ins(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO incident_acks (incident_id, service, at, by, via, comment)"
                " VALUES (:incident_id, :service, :at, :by, :via, :comment)", row)
        await self.store.run(ins)
        self.by_incident[incident] = row
        return row, True

    # -- signed links -----------------------------------------------------------------------
    def _mac(self, incident: str, expires: int, nonce: str) -> str:
        msg = f"{incident}.{expires}.{nonce}".encode()
        return _b64(hmac.new(self._key, msg, hashlib.sha256).digest()[:18])

    def link(self, base: str, incident: str, ttl_s: float) -> str:
        expires = int(time.time() + ttl_s)
        nonce = _b64(secrets.token_bytes(9))
        sig = f"{expires}.{nonce}.{self._mac(incident, expires, nonce)}"
        return f"{base.rstrip('/')}/api/monitoring/incidents/{quote(incident)}/ack?sig={sig}"

    def check(self, incident: str, sig: str) -> str | None:
        """Why the link cannot be used (None: it can)."""
        try:
            expires_s, nonce, mac = sig.split(".")
            expires = int(expires_s)
        except ValueError:
            return "this acknowledgement link is malformed"
        if not self._key or not hmac.compare_digest(mac, self._mac(incident, expires, nonce)):
            return "this acknowledgement link is not valid for this incident"
        if expires < time.time():
            return "this acknowledgement link has expired; acknowledge in the dashboard"
        return None

    async def spend(self, incident: str, sig: str) -> bool:
        """Mark the link used; False if it had been used already."""
        nonce = sig.split(".")[1]

        def ins(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT OR IGNORE INTO ack_links_used (nonce, incident_id, used_at) "
                "VALUES (?, ?, ?)", (nonce, incident, time.time()))
            return int(cur.rowcount)
        return bool(await self.store.run(ins))


def ack_to_api(row: dict[str, Any] | None, incident: str) -> dict[str, Any]:
    if row is None:
        return {"incident": incident, "acknowledged": False}
    return {"incident": incident, "acknowledged": True, "service": row["service"],
            "by": row["by"], "via": row["via"], "comment": row["comment"] or None,
            "at": round(row["at"] * 1000)}
