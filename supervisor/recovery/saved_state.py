"""What the recovery engine must remember across a daemon restart, per service: the circuit
breaker, the backoff level between recoveries, recent recoveries (flap window) and a pause.

Kept in the store's `recovery_state` table, so that restarting the supervisor does not reset
flap protection or lift a maintenance pause.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from supervisor.store.database import Store


@dataclass
class ServiceRecord:
    service: str
    level: int = 0  # automatic recoveries in a row without a stable healthy period
    recoveries: list[float] = field(default_factory=list)  # wall times, for the flap window
    breaker_open: bool = False
    opened_at: float | None = None
    reason: str = ""
    healthy_since: float | None = None
    paused: dict[str, Any] | None = None  # by, reason, at, until, stopped

    def to_api(self) -> dict[str, Any]:
        return {"backoffLevel": self.level, "recentRecoveries": len(self.recoveries),
                "breaker": {"open": self.breaker_open, "openedAt": self.opened_at,
                            "reason": self.reason},
                "healthySince": self.healthy_since, "paused": self.paused}


class RecoveryStateStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self) -> dict[str, ServiceRecord]:
        def q(conn: sqlite3.Connection) -> dict[str, ServiceRecord]:
            rows = conn.execute("SELECT * FROM recovery_state").fetchall()
            out = {}
            for r in rows:
                out[r["service"]] = ServiceRecord(
                    service=r["service"], level=r["level"],
                    recoveries=json.loads(r["recoveries"]), breaker_open=bool(r["breaker_open"]),
                    opened_at=r["opened_at"], reason=r["reason"],
                    healthy_since=r["healthy_since"],
                    paused=json.loads(r["paused"]) if r["paused"] else None)
            return out
        return await self.store.run(q)

    async def save(self, record: ServiceRecord) -> None:
        row = asdict(record)
        row["recoveries"] = json.dumps(row["recoveries"])
        row["paused"] = json.dumps(row["paused"]) if row["paused"] is not None else None
        row["breaker_open"] = int(row["breaker_open"])
        row["updated_at"] = time.time()
        await self.store.save_recovery_state(row)
