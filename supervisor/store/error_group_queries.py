"""Reads for the error group pages: a group's trend, services and incidents (the `errors`
table by fingerprint; its index is (fingerprint, created_at)). Run in the store's thread."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

HOUR = 3600.0


def trends(conn: sqlite3.Connection, fingerprints: list[str], since: float,
           bucket_s: float = HOUR) -> dict[str, list[int]]:
    """Per fingerprint: error counts per bucket from `since` to now, oldest first."""
    if not fingerprints:
        return {}
    first = since - since % bucket_s
    rows = conn.execute(
        "SELECT fingerprint, CAST((created_at - ?) / ? AS INTEGER), COUNT(*) FROM errors "
        f"WHERE fingerprint IN ({', '.join('?' for _ in fingerprints)}) AND created_at >= ? "
        "GROUP BY 1, 2", [first, bucket_s, *fingerprints, first])
    out: dict[str, dict[int, int]] = {}
    for fp, k, n in rows:
        out.setdefault(fp, {})[int(k)] = int(n)
    width = int((time.time() - first) // bucket_s) + 1
    return {fp: [out.get(fp, {}).get(i, 0) for i in range(width)] for fp in fingerprints}


def members(conn: sqlite3.Connection, fp: str, limit: int = 20) -> dict[str, Any]:
    """The services and incidents a group touched, and its newest errors."""
    services = [r[0] for r in conn.execute(
        "SELECT service, COUNT(*) FROM errors WHERE fingerprint = ? GROUP BY service "
        "ORDER BY 2 DESC", (fp,)) if r[0] is not None]
    incidents = [{"id": r[0], "service": r[1], "at": round(r[2] * 1000)} for r in conn.execute(
        "SELECT correlation_id, service, MIN(created_at) FROM errors WHERE fingerprint = ? AND "
        "correlation_id IS NOT NULL GROUP BY correlation_id ORDER BY 3 DESC LIMIT ?",
        (fp, limit))]
    latest = [dict(r) for r in conn.execute(
        "SELECT id, created_at, service, message, correlation_id, status FROM errors "
        "WHERE fingerprint = ? ORDER BY created_at DESC LIMIT ?", (fp, limit))]
    return {"services": services, "incidents": incidents,
            "recent": [{"id": r["id"], "timestamp": round(r["created_at"] * 1000),
                        "service": r["service"], "message": r["message"],
                        "correlationId": r["correlation_id"], "status": r["status"]}
                       for r in latest]}
