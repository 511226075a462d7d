"""Redis check: PING round trip on a kept connection, latency, and backlog of named keys.

A dropped connection (server killed, `CLIENT KILL`, network cut) is CONNECTION_LOST; the next
run opens a new connection by itself, so the check heals when the server is back.
"""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    elapsed_ms,
)
from supervisor.clients.redis_link import RedisLink, length_of, redis_errors


class RedisKeyLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    key: str = Field(min_length=1)
    max_length: int = Field(ge=0, alias="maxLength",
                            description="A list/stream/set/hash longer than this is a backlog.")


class RedisCheckConfig(CheckConfig):
    type: Literal["redis"] = "redis"
    url: str = Field("redis://127.0.0.1:6379/0", pattern=r"^(rediss?|unix)://",
                     description="redis://[:password@]host:port/db, rediss:// (TLS) or "
                                 "unix:///path/to/socket")
    keys: list[RedisKeyLimit] = Field(default_factory=list,
                                      description="Keys whose length must stay under a limit.")


@registry.register("redis")
class RedisCheck(HealthCheck):
    type_name: ClassVar[str] = "redis"
    config_model: ClassVar[type[CheckConfig]] = RedisCheckConfig
    config: RedisCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self.link = RedisLink(self.config.url, self.config.timeout_s,
                              client_name=f"soulfra-check-{service}"[:60])

    async def run(self) -> CheckResult:
        cfg, link = self.config, self.link
        RedisError, RedisConnectionError, RedisTimeoutError = redis_errors()  # noqa: N806
        started = time.perf_counter()
        was_connected = link.client is not None
        try:
            async with asyncio.timeout(cfg.timeout_s):
                await link.execute("PING")
                latency = elapsed_ms(started)
                lengths = {k.key: await length_of(link, k.key) for k in cfg.keys}
        except (TimeoutError, RedisTimeoutError):
            await link.drop()
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"redis {link.safe_url} did not answer PING within "
                               f"{cfg.timeout:.0f} ms")
        except (RedisConnectionError, OSError) as exc:
            await link.drop()
            how = "connection lost" if was_connected else "cannot connect"
            return self.result(CheckKind.CONNECTION_LOST, elapsed_ms(started),
                               f"redis {link.safe_url}: {how}: {exc}",
                               wasConnected=was_connected)
        except (RedisError, ValueError) as exc:
            return self.result(CheckKind.UNHEALTHY, elapsed_ms(started),
                               f"redis {link.safe_url} answered with an error: {exc}")
        details = {"connects": link.connects, "lengths": lengths} if lengths else \
            {"connects": link.connects}
        for limit in cfg.keys:
            if lengths[limit.key] > limit.max_length:
                return self.result(CheckKind.RESOURCE_PRESSURE, latency,
                                   f"backlog: {limit.key} has {lengths[limit.key]} entries "
                                   f"(limit {limit.max_length})", resource="queue", **details)
        return self.result(CheckKind.HEALTHY, latency, **details)

    async def reconnect(self) -> None:
        await self.link.reconnect()

    async def close(self) -> None:
        await self.link.drop()
        await super().close()
