"""Recoveries an earlier boot left unfinished: closed as `interrupted` when the daemon starts.

A daemon killed mid-recovery (SIGKILL, OOM, power) never wrote the end of the recovery it was
running, so the store would show it `running` forever. At start every row still `queued` or
`running` becomes `interrupted`; once that service's incident ends, the row's message names
what ended it: a recovery of this boot, or none (the service came back by itself, or what the
earlier boot had started finished booting).
"""

from __future__ import annotations

import time

from loguru import logger

from supervisor.recovery.plan import ACTIONS
from supervisor.recovery.run import RecoveryRun
from supervisor.store.database import Store

INTERRUPTED = "interrupted: the daemon stopped during this recovery (crash or SIGKILL)"


class InterruptedRecoveries:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._open: dict[str, list[tuple[str, str]]] = {}  # service -> [(id, message)]

    async def close_unfinished(self) -> int:
        """Mark what an earlier boot left queued or running as interrupted."""
        rows = await self.store.unfinished_recoveries()
        now = time.time()
        for row in rows:
            message = INTERRUPTED + (f"; {row['message']}" if row.get("message") else "")
            started = row.get("created_at") or now
            await self.store.update_recovery(row["id"], status="interrupted", message=message,
                                             finished_at=now,
                                             duration_ms=round((now - started) * 1000))
            self._open.setdefault(row["service"], []).append((row["id"], message))
            logger.warning("{}: recovery {} was left {} by the previous run of the daemon; "
                           "stored as interrupted", row["service"], row["id"], row["status"])
        return len(rows)

    def pending(self, service: str) -> bool:
        return service in self._open

    async def incident_ended(self, service: str, active: RecoveryRun | None,
                             runs: list[RecoveryRun]) -> None:
        """The service is up again: say in each interrupted row what ended the incident (the
        recovery of this boot in flight or last succeeded for it, if any)."""
        ours = [r for r in runs if r.service == service and r.status == "succeeded"
                and (r.action == "auto" or r.action in ACTIONS)]
        by = active.id if active is not None else ours[-1].id if ours else None
        end = (f"; the incident was ended by recovery {by}" if by
               else "; the incident ended without another recovery")
        for recovery_id, message in self._open.pop(service, []):
            await self.store.update_recovery(recovery_id, message=message + end)
