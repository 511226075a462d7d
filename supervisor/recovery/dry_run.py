"""A dry run: each step of the ladder says what it would do now, without doing it, and the
run is stored as `dry_run`.

Separate because it only asks and reports; nothing in it decides or repairs, and it shares no
state with a real recovery (no lock, no breaker, no attempt).
"""

from __future__ import annotations

import asyncio
import time

from supervisor.core.redaction import redact_text
from supervisor.recovery.context import StrategyContexts
from supervisor.recovery.journal import RecoveryJournal
from supervisor.recovery.plan import Step
from supervisor.recovery.run import OUTPUT_LIMIT, RecoveryRun

DRY_RUN_TIMEOUT_S = 10.0


async def dry_run_plan(run: RecoveryRun, steps: list[Step], *, contexts: StrategyContexts,
                       journal: RecoveryJournal) -> None:
    """Fill each entry of `run.plan` with what its strategy would do, then store the run."""
    for entry, (_config, strategy) in zip(run.plan, steps, strict=True):
        ctx = contexts.build(run, run.service, dry_run=True)
        try:
            outcome = await asyncio.wait_for(strategy.run(ctx), DRY_RUN_TIMEOUT_S)
            entry["would"] = redact_text(outcome.message)
            entry["applicable"] = outcome.ok
            if outcome.output:
                entry["output"] = redact_text(outcome.output[-OUTPUT_LIMIT:])
        except Exception as exc:
            entry["would"] = f"cannot plan: {exc!r}"
            entry["applicable"] = False
    run.status, run.finished_at = "dry_run", time.time()
    run.message = "dry run: nothing was done"
    await journal.save(run, insert=True)
