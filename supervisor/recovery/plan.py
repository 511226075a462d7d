"""What the recovery manager knows of one service: its ladder, limits and dependencies, and
which steps a requested action may use."""

from __future__ import annotations

import random
from dataclasses import dataclass

import recovery_strategies
from recovery_strategies.base import RecoveryStrategy, StrategyConfig
from supervisor.config.services import RESTART_STRATEGIES, RecoveryDefaults, ServiceConfigBase
from supervisor.processes.spec import ProcessSpec
from supervisor.recovery.run import RecoveryRefused

ACTIONS: dict[str, frozenset[str] | None] = {
    "restart_service": RESTART_STRATEGIES,
    "reconnect_redis": frozenset({"reconnect_redis"}),
    "retry_failed": frozenset({"retry_failed"}),
    "run_ladder": None,  # the service's whole ladder, as an automatic recovery would run it
}
# Actions that work on any service: without such a step in its ladder, one is made up.
IMPLICIT_STEPS = ("retry_failed", "reconnect_redis")

Step = tuple[StrategyConfig, RecoveryStrategy]

# A started process's time to boot before its failed checks count (recovery.startupGrace).
STARTUP_GRACE_MS = 15000.0


@dataclass
class ServicePlan:
    """What the manager needs to know of one service."""

    steps: list[Step]
    auto_restart: bool
    depends_on: list[str]
    max_attempts: int
    backoff_multiplier: float
    process_spec: ProcessSpec | None = None
    startup_grace_ms: float = STARTUP_GRACE_MS
    shared: bool = False  # several cluster nodes watch it: recovered under the Redis lease

    @classmethod
    def build(cls, name: str, svc: ServiceConfigBase, defaults: RecoveryDefaults) -> ServicePlan:
        steps: list[Step] = []
        for step in svc.ladder:
            # every registered step model declares `strategy` (its Literal discriminator)
            strategy = recovery_strategies.registry.get(step.strategy)  # type: ignore[attr-defined]
            steps.append((step, strategy(step, name)))
        return cls(steps=steps, auto_restart=svc.auto_restart, depends_on=list(svc.depends_on),
                   max_attempts=svc.max_attempts or defaults.max_attempts,
                   backoff_multiplier=svc.backoff_multiplier or defaults.backoff_multiplier,
                   process_spec=svc.restart,
                   startup_grace_ms=svc.startup_grace or defaults.startup_grace,
                   shared=svc.shared)

    def steps_for(self, service: str, action: str) -> list[Step]:
        """The steps an action may run: "auto" skips restarts unless autoRestart is on."""
        if action == "auto":
            return [(c, s) for c, s in self.steps
                    if self.auto_restart or s.name not in RESTART_STRATEGIES]
        allowed = ACTIONS[action]
        steps = [(c, s) for c, s in self.steps if allowed is None or s.name in allowed]
        if not steps and action in IMPLICIT_STEPS:
            strategy = recovery_strategies.registry.get(action)
            cfg = strategy.config_model.model_validate({"strategy": action})
            steps = [(cfg, strategy(cfg, service))]
        if not steps:
            raise RecoveryRefused(f"service {service!r} has no step for {action} "
                                  f"(its ladder: {[s.name for _, s in self.steps] or 'empty'})")
        return steps


def backoff_delay_s(level: int, d: RecoveryDefaults, multiplier: float) -> float:
    """Wait before an automatic recovery that follows `level` others without a stable healthy
    period: 0, then initialDelay × multiplier^(level-1), capped at maxDelay, plus jitter."""
    if level <= 0:
        return 0.0
    base = min(d.max_delay, d.initial_delay * multiplier ** (level - 1)) / 1000
    return base + random.uniform(0, d.jitter * base)
