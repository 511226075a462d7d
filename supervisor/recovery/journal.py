"""Every recovery run and one-shot action (pause, resume, undoing a failover): the latest in
memory for the API, every one in the store."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict

from loguru import logger

from supervisor.core.redaction import redact_text
from supervisor.recovery.run import OUTPUT_LIMIT, RecoveryRun
from supervisor.store.database import Store

KEPT_IN_MEMORY = 500


def new_run_id() -> str:
    return "RC_" + secrets.token_hex(4)


class RecoveryJournal:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.runs: OrderedDict[str, RecoveryRun] = OrderedDict()

    async def save(self, run: RecoveryRun, insert: bool = False) -> None:
        self.runs[run.id] = run
        while len(self.runs) > KEPT_IN_MEMORY:
            self.runs.popitem(last=False)
        row = run.row()
        try:
            if insert:
                await self.store.insert_recovery(row)
            else:
                row.pop("id")
                await self.store.update_recovery(run.id, **row)
        except Exception:
            logger.exception("cannot store recovery {}", run.id)

    async def action(self, service: str, action: str, by: str, status: str, message: str,
                     output: str = "") -> None:
        """A one-shot action stored like a recovery."""
        now = time.time()
        run = RecoveryRun(id=new_run_id(), service=service, action=action, requested_by=by,
                          status=status, created_at=now, finished_at=now,
                          message=redact_text(message))
        if output:
            run.attempts = [{"strategy": action, "attempt": 1, "startedAt": now,
                             "ok": status != "failed", "message": run.message,
                             "output": redact_text(output[-OUTPUT_LIMIT:]), "durationMs": 0}]
        await self.save(run, insert=True)
