"""restart_container: restart a Docker container (SIGTERM, SIGKILL after stopTimeout, start),
or start it when it has exited or was never started."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.clients.docker import ContainerNotFound, DockerUnavailable


class RestartContainerConfig(StrategyConfig):
    strategy: Literal["restart_container"] = "restart_container"
    container: str = Field(min_length=1, description="Container name or id.")
    stop_timeout: float = Field(10000, ge=0, le=600000, alias="stopTimeout",
                                description="ms between SIGTERM and SIGKILL.")


@registry.register("restart_container")
class RestartContainer(RecoveryStrategy):
    name: ClassVar[str] = "restart_container"
    config_model: ClassVar[type[StrategyConfig]] = RestartContainerConfig
    config: RestartContainerConfig

    def plan(self) -> str:
        return (f"restart container {self.config.container} (start it if it is not running; "
                f"SIGKILL after {self.config.stop_timeout / 1000:g} s)")

    async def run(self, ctx: RecoveryContext) -> Outcome:
        if ctx.dry_run:
            return Outcome(True, f"dry run: would {self.plan()}")
        name = self.config.container
        if ctx.docker is None:
            return Outcome(False, "no Docker client was given")
        try:
            info = await ctx.docker.inspect(name)
            running = bool((info.get("State") or {}).get("Running"))
            if running:
                await ctx.docker.restart(name, round(self.config.stop_timeout / 1000))
            else:
                await ctx.docker.start(name)
        except ContainerNotFound:
            # Gone (docker rm): only whoever made it (compose, kubelet) knows how to make it.
            return Outcome(False, f"container {name} does not exist: recreate it "
                                  "(docker compose up -d) — a removed container cannot be "
                                  "restarted")
        except DockerUnavailable as exc:
            return Outcome(False, f"cannot restart container {name}: {exc}")
        return Outcome(True, f"{'restarted' if running else 'started'} container {name}",
                       details={"container": name, "wasRunning": running,
                                "id": str(info.get("Id", ""))[:12]})
