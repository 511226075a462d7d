"""restart_command: stop the old process (known pid, pidfile or process group), start anew."""

from __future__ import annotations

from typing import ClassVar, Literal

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.processes.spec import ProcessSpec


class RestartCommandConfig(ProcessSpec, StrategyConfig):
    strategy: Literal["restart_command"] = "restart_command"


@registry.register("restart_command")
class RestartCommand(RecoveryStrategy):
    name: ClassVar[str] = "restart_command"
    config_model: ClassVar[type[StrategyConfig]] = RestartCommandConfig
    config: RestartCommandConfig

    def plan(self) -> str:
        stop = f"stop pid from {self.config.pid_file}" if self.config.pid_file else "stop"
        return f"{stop} the running process of {self.service}, then start {self.config.command}"

    async def run(self, ctx: RecoveryContext) -> Outcome:
        if ctx.dry_run:
            return Outcome(True, f"dry run: would {self.plan()}")
        stopped = await ctx.processes.stop(self.service, self.config)
        try:
            pid = await ctx.processes.start(self.service, self.config)
        except OSError as exc:
            return Outcome(False, f"cannot start {self.config.command[0]}: {exc}",
                           details={"stopped": stopped})
        return Outcome(True, f"restarted {self.service} as pid {pid}",
                       details={"stopped": stopped, "pid": pid})
