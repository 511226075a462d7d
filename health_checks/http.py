"""HTTP check: status, latency; tells refused, stalled and unhealthy apart."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

import aiohttp
from pydantic import Field

from health_checks import registry
from health_checks.base import CheckConfig, CheckKind, CheckResult, HealthCheck
from supervisor.http_client import shared_session


class HttpCheckConfig(CheckConfig):
    type: Literal["http"] = "http"
    url: str | None = Field(
        default=None, description="Full URL. Default: the service's baseUrl + path."
    )
    path: str | None = Field(default=None, description="Path joined to the service's baseUrl.")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = Field(
        default_factory=list,
        alias="expectStatus",
        description="Acceptable status codes. Default: any 2xx.",
    )
    headers: dict[str, str] = Field(default_factory=dict)


@registry.register("http")
class HttpCheck(HealthCheck):
    type_name: ClassVar[str] = "http"
    config_model: ClassVar[type[CheckConfig]] = HttpCheckConfig
    config: HttpCheckConfig

    async def run(self) -> CheckResult:
        cfg = self.config
        assert cfg.url is not None  # filled in by the service config
        started = time.perf_counter()
        try:
            async with asyncio.timeout(cfg.timeout_s):
                session = shared_session()
                async with session.request(cfg.method, cfg.url, headers=cfg.headers,
                                           allow_redirects=False) as resp:
                    await resp.read()
                    status = resp.status
        except TimeoutError:
            return self.result(CheckKind.STALLED, _ms(started),
                               f"no answer from {cfg.url} within {cfg.timeout:.0f} ms")
        except aiohttp.ClientConnectorError as exc:
            return self.result(CheckKind.REFUSED, _ms(started),
                               f"cannot connect to {cfg.url}: {_why(exc.os_error)}")
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            return self.result(CheckKind.UNHEALTHY, _ms(started),
                               f"connection to {cfg.url} broke: {exc}")
        except aiohttp.ClientError as exc:
            return self.result(CheckKind.UNHEALTHY, _ms(started),
                               f"bad answer from {cfg.url}: {exc}")
        latency = _ms(started)
        ok = status in cfg.expect_status if cfg.expect_status else 200 <= status < 300
        if not ok:
            return self.result(CheckKind.UNHEALTHY, latency,
                               f"{cfg.url} answered HTTP {status}", status=status)
        return self.result(CheckKind.HEALTHY, latency, status=status)


def _why(err: OSError) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return err.strerror or str(err)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
