"""Healthy again: steps that changed something temporary (failover) switch it back, and what
they did is stored as an action and published as `recovery_undone`.

Separate because it runs after a recovery, on the way up, and decides nothing about whether
to repair; it only gives each strategy of the ladder its `on_healthy` turn.
"""

from __future__ import annotations

from collections.abc import Mapping

from loguru import logger

from supervisor.core.events import EventBus
from supervisor.recovery.context import StrategyContexts
from supervisor.recovery.journal import RecoveryJournal
from supervisor.recovery.plan import ServicePlan


async def undo_temporary_steps(service: str, plans: Mapping[str, ServicePlan], *,
                               contexts: StrategyContexts, journal: RecoveryJournal,
                               bus: EventBus) -> None:
    """Let each step of the service's current plan undo its change, and store the outcome."""
    plan = plans.get(service)
    for _config, strategy in plan.steps if plan else []:
        try:
            outcome = await strategy.on_healthy(contexts.build(None, service))
        except Exception as exc:
            logger.exception("{}: {} could not undo its change", service, strategy.name)
            outcome = None
            message = f"{strategy.name} crashed undoing its change: {exc!r}"
            await journal.action(service, "undo_" + strategy.name, "auto", "failed", message)
        if outcome is None:
            continue
        status = "succeeded" if outcome.ok else "failed"
        await journal.action(service, "undo_" + strategy.name, "auto", status,
                             outcome.message, outcome.output)
        bus.publish("recovery_undone", service, None, strategy=strategy.name,
                    ok=outcome.ok, message=outcome.message)
