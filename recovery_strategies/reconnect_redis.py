"""reconnect_redis: re-establish Redis connections without restarting anything.

Drops the daemon's own Redis connections (the shared clients and the service's checks'), PINGs
the configured Redis anew, and asks the service to reconnect through its hook: an HTTP
endpoint or a command. The SPEC's `reconnect_redis` action.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, Literal

from pydantic import Field

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.clients.http import call_hook
from supervisor.core.redaction import redact_text


class ReconnectRedisConfig(StrategyConfig):
    strategy: Literal["reconnect_redis"] = "reconnect_redis"
    url: str | None = Field(default=None, pattern=r"^rediss?://",
                            description="Redis the daemon must reach again (PING).")
    hook_url: str | None = Field(default=None, alias="hookUrl", pattern=r"^https?://",
                                 description="The service's reconnect endpoint.")
    hook_method: Literal["POST", "PUT", "GET"] = Field(default="POST", alias="hookMethod")
    command: list[str] | None = Field(default=None, min_length=1,
                                      description="A command that makes the service reconnect.")
    timeout: float = Field(default=5000, gt=0, description="ms for the PING and each hook.")


@registry.register("reconnect_redis")
class ReconnectRedis(RecoveryStrategy):
    name: ClassVar[str] = "reconnect_redis"
    config_model: ClassVar[type[StrategyConfig]] = ReconnectRedisConfig
    config: ReconnectRedisConfig

    def plan(self) -> str:
        c = self.config
        parts = [f"drop the daemon's Redis connections for {self.service}"]
        if c.url:
            parts.append(f"PING {redact_text(c.url)}")
        if c.hook_url:
            parts.append(f"{c.hook_method} {redact_text(c.hook_url)}")
        if c.command:
            parts.append(f"run {c.command}")
        return ", then ".join(parts)

    async def run(self, ctx: RecoveryContext) -> Outcome:
        if ctx.dry_run:
            return Outcome(True, f"dry run: would {self.plan()}")
        c = self.config
        lines: list[str] = []
        if ctx.reset_own_connections is not None:
            dropped = await ctx.reset_own_connections()
            lines.append(f"dropped check connections: {', '.join(dropped) or 'none'}")
        if ctx.redis is not None:
            closed = await ctx.redis.reset(c.url)
            lines.append(f"dropped shared clients: {', '.join(closed) or 'none'}")
            if c.url:
                from redis.exceptions import RedisError  # loaded by ctx.redis already

                try:
                    async with asyncio.timeout(c.timeout / 1000):
                        await ctx.redis.get(c.url).ping()
                except (RedisError, OSError, TimeoutError) as exc:
                    why = redact_text(str(exc)) or type(exc).__name__
                    return Outcome(False, f"Redis {redact_text(c.url)} does not answer: {why}",
                                   output="\n".join(lines))
                lines.append(f"PING {redact_text(c.url)}: PONG")
        if c.hook_url:
            import aiohttp

            try:
                status, text = await call_hook(ctx.http, c.hook_method, c.hook_url, {},
                                               {"service": self.service,
                                                "correlationId": ctx.correlation_id},
                                               c.timeout)
            except (TimeoutError, aiohttp.ClientError) as exc:
                why = redact_text(str(exc)) or type(exc).__name__
                return Outcome(False, f"reconnect hook failed: {why}", output="\n".join(lines))
            lines.append(f"hook answered {status}: {redact_text(text[-500:])}")
            if not 200 <= status < 300:
                return Outcome(False, f"reconnect hook answered {status}",
                               output="\n".join(lines))
        if c.command:
            ok, text = await _run_command(c.command, c.timeout / 1000)
            lines.append(text)
            if not ok:
                return Outcome(False, f"reconnect command failed: {text.splitlines()[0]}",
                               output="\n".join(lines))
        return Outcome(True, "reconnected" + (" (hook called)" if c.hook_url or c.command
                                              else ""), output="\n".join(lines))


async def _run_command(argv: list[str], timeout_s: float) -> tuple[bool, str]:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT)
    except OSError as exc:
        return False, f"cannot run {argv[0]}: {exc.strerror}"
    try:
        async with asyncio.timeout(timeout_s):
            out, _ = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False, f"{argv[0]} timed out after {timeout_s:g} s"
    text = redact_text(out.decode(errors="replace").strip()[-1000:])
    return proc.returncode == 0, f"{argv[0]} exited {proc.returncode}" + (
        f": {text}" if text else "")
