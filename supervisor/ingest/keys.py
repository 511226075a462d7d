"""Project ids and keys: every service gets a numeric project id (kept in the store, so it
is the same after a restart) and a generated public key unless services.json sets keys.

A key belongs to exactly one service. An unknown key is answered 401, a revoked key or a key
sent to another service's project 403 — answers on which the SDKs stop and drop the event.
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from supervisor.ingest.config import ErrorReportingConfig
from supervisor.ingest.limits import IngestError


@dataclass(slots=True)
class KeyInfo:
    service: str
    generated: bool  # False: set in services.json (cannot be rotated here)
    revoked: bool = False


@dataclass
class KeyRing:
    """In memory for the request path; written through the store's own thread."""

    keys: dict[str, KeyInfo] = field(default_factory=dict)
    project_of: dict[str, int] = field(default_factory=dict)
    service_of: dict[int, str] = field(default_factory=dict)
    rejected: Counter[str] = field(default_factory=Counter)

    # -- the request path -------------------------------------------------------------------
    def resolve(self, key: str | None, project_id: int | None) -> str:
        """The service a key reports for; IngestError (401/403) otherwise, counted."""
        if not key:
            self.rejected["missing_key"] += 1
            raise IngestError(401, "missing sentry_key (X-Sentry-Auth header, sentry_key "
                                   "query parameter or the envelope's dsn)", "auth")
        info = self.keys.get(key)
        if info is None:
            self.rejected["unknown_key"] += 1
            raise IngestError(401, "unknown key; see `soulfra-supervisor dsn SERVICE`", "auth")
        if info.revoked:
            self.rejected["revoked_key"] += 1
            raise IngestError(403, "this key was revoked; see `soulfra-supervisor dsn "
                                   f"{info.service}`", "auth")
        if project_id is not None and self.project_of.get(info.service) != project_id:
            self.rejected["wrong_project"] += 1
            raise IngestError(403, f"this key does not belong to project {project_id}", "auth")
        return info.service

    def live_keys(self, service: str) -> list[str]:
        return [k for k, i in self.keys.items() if i.service == service and not i.revoked]

    def dsn(self, service: str, base_url: str) -> dict[str, Any]:
        project = self.project_of[service]
        scheme, _, rest = base_url.partition("://")
        keys = self.live_keys(service)
        return {"service": service, "projectId": project, "keys": keys,
                "dsn": f"{scheme}://{keys[0]}@{rest.rstrip('/')}/{project}" if keys else None}

    # -- in the store's thread --------------------------------------------------------------
    def sync(self, conn: sqlite3.Connection, services: dict[str, ErrorReportingConfig]) -> None:
        """Give every service a project id and a key; load what the store already holds."""
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            stored = dict(conn.execute("SELECT service, project_id FROM ingest_projects"))
            # services.json's project ids first (they win over an id stored for another
            # service), then a new id, above every other, for each service without one
            for name in sorted(services):
                wanted = services[name].project_id
                if wanted is None or stored.get(name) == wanted:
                    continue
                for other in [s for s, p in stored.items() if p == wanted]:
                    del stored[other]
                conn.execute("DELETE FROM ingest_projects WHERE project_id = ? OR service = ?",
                             (wanted, name))
                conn.execute("INSERT INTO ingest_projects VALUES (?, ?, ?)", (name, wanted, now))
                stored[name] = wanted
            for name in sorted(services):
                if name not in stored:
                    pid = max([0, *stored.values()]) + 1
                    conn.execute("INSERT INTO ingest_projects VALUES (?, ?, ?)",
                                 (name, pid, now))
                    stored[name] = pid
            rows = conn.execute("SELECT key, service, revoked_at FROM ingest_keys").fetchall()
            have = {r[1] for r in rows if r[2] is None}
            for name in sorted(services):
                if not services[name].keys and name not in have:
                    key = new_key()
                    conn.execute("INSERT INTO ingest_keys VALUES (?, ?, ?, NULL)",
                                 (key, name, now))
                    rows.append((key, name, None))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        keys: dict[str, KeyInfo] = {}
        for key, service, revoked_at in rows:
            if service in services and not services[service].keys:
                keys[key] = KeyInfo(service, True, revoked_at is not None)
        for name, cfg in services.items():
            for key in cfg.keys:
                keys[key] = KeyInfo(name, False)
        self.keys = keys
        self.project_of = {s: p for s, p in stored.items() if s in services}
        self.service_of = {p: s for s, p in self.project_of.items()}

    def check_rotatable(self, service: str) -> None:
        if any(i.service == service and not i.generated for i in self.keys.values()):
            raise ValueError(f"{service}'s keys are set in services.json "
                             "(errorReporting.keys): change them there")

    @staticmethod
    def store_rotation(conn: sqlite3.Connection, service: str, key: str) -> None:
        """In the store's thread: revoke the service's keys and add `key`."""
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("UPDATE ingest_keys SET revoked_at = ? WHERE service = ? AND "
                         "revoked_at IS NULL", (now, service))
            conn.execute("INSERT INTO ingest_keys VALUES (?, ?, ?, NULL)", (key, service, now))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def apply_rotation(self, service: str, key: str) -> None:
        """On the event loop, once stored: the old keys answer 403 from now on."""
        for info in self.keys.values():
            if info.service == service:
                info.revoked = True
        self.keys[key] = KeyInfo(service, True)


def new_key() -> str:
    return secrets.token_hex(16)
