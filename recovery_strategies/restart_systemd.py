"""restart_systemd: `systemctl restart UNIT`, with a clear error where systemd is absent."""

from __future__ import annotations

import asyncio
import shutil
from typing import ClassVar, Literal

from pydantic import Field

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig


class RestartSystemdConfig(StrategyConfig):
    strategy: Literal["restart_systemd"] = "restart_systemd"
    unit: str = Field(min_length=1, description="The systemd unit, e.g. nginx.service.")
    systemctl: str = Field(default="systemctl", description="Path or name of systemctl.")
    timeout: float = Field(default=60000, gt=0, description="ms to wait for systemctl.")


@registry.register("restart_systemd")
class RestartSystemd(RecoveryStrategy):
    name: ClassVar[str] = "restart_systemd"
    config_model: ClassVar[type[StrategyConfig]] = RestartSystemdConfig
    config: RestartSystemdConfig

    def plan(self) -> str:
        return f"{self.config.systemctl} restart {self.config.unit}"

    async def run(self, ctx: RecoveryContext) -> Outcome:
        if ctx.dry_run:
            return Outcome(True, f"dry run: would run {self.plan()}")
        exe = shutil.which(self.config.systemctl)
        if exe is None:
            return Outcome(False, f"{self.config.systemctl} not found: this host has no systemd "
                                  "tools; use restart_command instead")
        proc = await asyncio.create_subprocess_exec(
            exe, "restart", self.config.unit,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        try:
            async with asyncio.timeout(self.config.timeout / 1000):
                out, _ = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return Outcome(False, f"systemctl restart {self.config.unit} timed out")
        text = out.decode(errors="replace").strip()[-2000:]
        if proc.returncode != 0:
            hint = ""
            if "not been booted with systemd" in text:
                hint = " (systemd is not PID 1 here)"
            return Outcome(False, f"systemctl restart {self.config.unit} exited "
                                  f"{proc.returncode}{hint}", output=text)
        return Outcome(True, f"systemctl restart {self.config.unit} done", output=text)
