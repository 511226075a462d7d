"""restart_command: stop the old process (known pid, pidfile or process group), start anew."""

from __future__ import annotations

from typing import ClassVar, Literal

<<<<<<< HEAD
=======
from pydantic import ConfigDict, Field, model_validator

>>>>>>> 7e19b60 (services.json: strict decoding (path-named refusals for nesting, encodings, huge numbers, duplicate keys), strict numbers, bounded durations, redis URL schemes, BOM accepted; the schema says what validate enforces (hypothesis-generated documents))
from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.processes.spec import ProcessSpec


<<<<<<< HEAD
class RestartCommandConfig(ProcessSpec, StrategyConfig):
=======
class ProcessSpec(StrategyConfig):
    """How to start and stop a service's process. Also the service-level `restart` block."""

    # What _shell_takes_one_string says, for the published schema.
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["shell"], "properties": {"shell": {"const": True}}},
        "then": {"properties": {"command": {"maxItems": 1}}}})

    command: list[str] = Field(min_length=1, description="argv of the service's process.")
    shell: bool = Field(default=False, description="Run command[0] through /bin/sh -c.")
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    pid_file: str | None = Field(default=None, alias="pidFile",
                                 description="Where the pid is recorded (read to find it).")
    stop_timeout: float = Field(default=5000, gt=0, le=3_600_000, alias="stopTimeout",
                                description="ms between SIGTERM and SIGKILL.")
    auto_start: bool = Field(default=False, alias="autoStart",
                             description="Start the process when the daemon starts and the "
                                         "service does not answer.")
    stop_on_exit: bool = Field(default=False, alias="stopOnExit",
                               description="Stop the process when the daemon shuts down.")

    @model_validator(mode="after")
    def _shell_takes_one_string(self) -> ProcessSpec:
        if self.shell and len(self.command) != 1:
            raise ValueError("with shell: true, command must be a single string")
        return self


class RestartCommandConfig(ProcessSpec):
>>>>>>> 7e19b60 (services.json: strict decoding (path-named refusals for nesting, encodings, huge numbers, duplicate keys), strict numbers, bounded durations, redis URL schemes, BOM accepted; the schema says what validate enforces (hypothesis-generated documents))
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
