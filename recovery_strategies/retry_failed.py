"""retry_failed: do nothing but check again (a transient blip repairs itself)."""

from __future__ import annotations

from typing import ClassVar, Literal

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig


class RetryFailedConfig(StrategyConfig):
    strategy: Literal["retry_failed"] = "retry_failed"


@registry.register("retry_failed")
class RetryFailed(RecoveryStrategy):
    name: ClassVar[str] = "retry_failed"
    config_model: ClassVar[type[StrategyConfig]] = RetryFailedConfig

    def plan(self) -> str:
        return f"re-run the checks of {self.service}"

    async def run(self, ctx: RecoveryContext) -> Outcome:
        return Outcome(True, "dry run: would re-check" if ctx.dry_run else "re-checking")
