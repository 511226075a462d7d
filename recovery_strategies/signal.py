"""signal: send a signal to the service's process (SIGHUP to reload, SIGUSR1 to reopen logs)."""

from __future__ import annotations

import os
import signal as signals
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.processes.pidfile import read_pid_file


class SignalConfig(StrategyConfig):
    strategy: Literal["signal"] = "signal"
    signal: str = Field(default="SIGHUP", description="Signal name, e.g. SIGHUP or SIGUSR1.")
    pid_file: str | None = Field(default=None, alias="pidFile",
                                 description="Where the pid is; default: the service's "
                                             "restart.pidFile or the process the daemon started.")
    group: bool = Field(default=False, description="Signal the whole process group.")

    @field_validator("signal")
    @classmethod
    def _known(cls, value: str) -> str:
        name = value.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        if name not in signals.Signals.__members__:
            raise ValueError(f"unknown signal {value!r}; e.g. SIGHUP, SIGUSR1, SIGTERM")
        return name


@registry.register("signal")
class Signal(RecoveryStrategy):
    name: ClassVar[str] = "signal"
    config_model: ClassVar[type[StrategyConfig]] = SignalConfig
    config: SignalConfig

    def plan(self) -> str:
        where = self.config.pid_file or "its known pid"
        return f"send {self.config.signal} to the process of {self.service} ({where})"

    def _pid(self, ctx: RecoveryContext) -> int | None:
        if self.config.pid_file:
            return read_pid_file(self.config.pid_file)
        return ctx.processes.pid_of(self.service, ctx.process_spec)

    async def run(self, ctx: RecoveryContext) -> Outcome:
        pid = self._pid(ctx)
        sig = signals.Signals[self.config.signal]
        if pid is None:
            return Outcome(False, f"no pid known for {self.service}: give the step a pidFile")
        if ctx.dry_run:
            return Outcome(True, f"dry run: would send {sig.name} to pid {pid}",
                           details={"signalledPid": pid})
        try:
            if self.config.group:
                os.killpg(os.getpgid(pid), sig)
            else:
                os.kill(pid, sig)
        except ProcessLookupError:
            return Outcome(False, f"pid {pid} of {self.service} is gone")
        except PermissionError:
            return Outcome(False, f"not allowed to signal pid {pid} of {self.service}")
        return Outcome(True, f"sent {sig.name} to pid {pid}", details={"signalledPid": pid})
