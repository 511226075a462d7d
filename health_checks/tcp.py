"""TCP check: can a connection be opened within the timeout."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck, elapsed_ms


class TcpCheckConfig(CheckConfig):
    type: Literal["tcp"] = "tcp"
    host: str = "127.0.0.1"
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="Default: the service's port.")


@registry.register("tcp")
class TcpCheck(HealthCheck):
    type_name: ClassVar[str] = "tcp"
    config_model: ClassVar[type[CheckConfig]] = TcpCheckConfig
    config: TcpCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        target = f"{cfg.host}:{cfg.port}"
        started = time.perf_counter()
        try:
            async with asyncio.timeout(cfg.timeout_s):
                _, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except TimeoutError:
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"connect to {target} timed out after {cfg.timeout:.0f} ms")
        except OSError as exc:
            return self.result(CheckKind.REFUSED, elapsed_ms(started),
                               f"cannot connect to {target}: {exc.strerror or exc}")
        latency = elapsed_ms(started)
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass
        return self.result(CheckKind.HEALTHY, latency)
