"""Recovery strategies, one module per name; `registry` maps each name to its class."""

from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.core.registry import Registry

registry: Registry[RecoveryStrategy] = Registry(
    "recovery strategy", "recovery_strategies", "soulfra.recovery_strategies"
)

__all__ = ["Outcome", "RecoveryContext", "RecoveryStrategy", "StrategyConfig", "registry"]
