"""Progress check (stalled work): a counter must advance, or a queue drain, within a window
while there is work; otherwise the service is stalled even though its health check passes.

The value comes from a JSON endpoint (`url` + `path`), a Redis key (`redisUrl` + `key`) or
the counters of the service's heartbeats (`heartbeatField`).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from health_checks import registry
from health_checks._jsonpath import MISSING, lookup, parse
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    elapsed_ms,
)
from supervisor.clients.redis_link import RedisLink, number_at, redis_errors


class ProgressCheckConfig(CheckConfig):
    # What _one_source says, for the published schema.
    model_config = ConfigDict(json_schema_extra={"oneOf": [
        {"required": [k], "properties": {k: {"type": "string", "minLength": 1}}}
        for k in ("url", "redisUrl", "heartbeatField")]})

    type: Literal["progress"] = "progress"
    url: str | None = Field(None, description="JSON endpoint holding the counter.")
    path: str | None = Field(None, description="JSON path of the counter in url's body.")
    pending_path: str | None = Field(None, alias="pendingPath",
                                     description="JSON path of the amount of waiting work.")
    redis_url: str | None = Field(None, alias="redisUrl")
    key: str | None = Field(None, description="Redis key: a number, or a list/stream/... "
                                              "whose length counts.")
    pending_key: str | None = Field(None, alias="pendingKey",
                                    description="Redis key whose length is the waiting work.")
    heartbeat_field: str | None = Field(None, alias="heartbeatField",
                                        description="Counter in the service's heartbeats.")
    pending_field: str | None = Field(None, alias="pendingField")
    expect: Literal["increase", "decrease"] = Field(
        "increase", description="increase: a done-counter grows; decrease: a queue drains "
                                "(there is work while it is above 0).")
    window: float = Field(60000, gt=0, description="ms the value may stand still while there "
                                                   "is work.")

    @field_validator("path", "pending_path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        if v is not None:
            parse(v)
        return v

    @model_validator(mode="after")
    def _one_source(self) -> ProgressCheckConfig:
        sources = [n for n, on in (("url", self.url), ("redisUrl", self.redis_url),
                                   ("heartbeatField", self.heartbeat_field)) if on]
        if len(sources) != 1:
            raise ValueError("needs exactly one source: url (+ path), redisUrl (+ key) or "
                             f"heartbeatField; got {sources or 'none'}")
        if self.url and not self.path:
            raise ValueError("url needs path (where the counter is in the JSON body)")
        if self.redis_url and not (self.key or self.pending_key):
            raise ValueError("redisUrl needs key or pendingKey")
        return self


@registry.register("progress")
class ProgressCheck(HealthCheck):
    type_name: ClassVar[str] = "progress"
    config_model: ClassVar[type[CheckConfig]] = ProgressCheckConfig
    config: ProgressCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self._last: float | None = None
        self._last_advance = time.monotonic()
        self._link = RedisLink(self.config.redis_url, self.config.timeout_s,
                               f"soulfra-progress-{service}"[:60]) if self.config.redis_url \
            else None

    async def run(self) -> CheckResult:
        cfg = self.config
        started = time.perf_counter()
        try:
            async with asyncio.timeout(cfg.timeout_s):
                value, pending = await self._read()
        except TimeoutError:
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"no progress value within {cfg.timeout:.0f} ms")
        except _Unreadable as exc:
            return self.result(exc.kind, elapsed_ms(started), str(exc))
        latency = elapsed_ms(started)
        now = time.monotonic()
        if value is None and cfg.key is None and cfg.pending_key is not None:
            value = pending  # a queue alone: it must drain
        if value is None:
            return self.result(CheckKind.HEALTHY, latency, "no value yet", value=None)
        last = self._last
        if cfg.expect == "increase":
            advanced = last is None or value > last or value < last  # < : counter reset
            busy = pending > 0 if pending is not None else True
        else:
            advanced = last is None or value < last
            busy = value > 0
        if advanced or not busy:
            self._last_advance = now
        self._last = value
        still = now - self._last_advance
        details: dict[str, Any] = {"value": value, "pending": pending,
                                   "stillForMs": round(still * 1000)}
        if still * 1000 > cfg.window:
            what = f"{self._what()} stuck at {value:g} for {still:.1f} s"
            if pending is not None:
                what += f" while {pending:g} wait"
            return self.result(CheckKind.NO_PROGRESS, latency,
                               f"{what} (window {cfg.window / 1000:g} s)", **details)
        return self.result(CheckKind.HEALTHY, latency, **details)

    def _what(self) -> str:
        cfg = self.config
        return cfg.path or cfg.key or cfg.heartbeat_field or cfg.pending_key or "value"

    async def _read(self) -> tuple[float | None, float | None]:
        cfg = self.config
        if cfg.heartbeat_field:
            signs = self.env.heartbeats.signs.get(self.service)
            counters = signs.counters if signs else {}
            pending = counters.get(cfg.pending_field) if cfg.pending_field else None
            return counters.get(cfg.heartbeat_field), pending
        if self._link is not None:
            RedisError, RedisConnectionError, RedisTimeoutError = redis_errors()  # noqa: N806
            try:
                value = await number_at(self._link, cfg.key) if cfg.key else None
                pending = await number_at(self._link, cfg.pending_key) \
                    if cfg.pending_key else None
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                await self._link.drop()
                raise _Unreadable(CheckKind.CONNECTION_LOST,
                                  f"redis {self._link.safe_url}: {exc}") from None
            except (RedisError, ValueError) as exc:
                raise _Unreadable(CheckKind.UNHEALTHY, f"cannot read {cfg.key}: {exc}") from None
            return value, (pending or 0.0) if cfg.pending_key else None
        assert cfg.url is not None and cfg.path is not None
        import aiohttp  # only a progress check read over HTTP pays for the import

        try:
            async with self.env.http.session().get(cfg.url, allow_redirects=False) as resp:
                body = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorError as exc:
            raise _Unreadable(CheckKind.REFUSED, f"cannot connect to {cfg.url}: {exc}") from None
        except aiohttp.ClientError as exc:
            raise _Unreadable(CheckKind.UNHEALTHY, f"bad answer from {cfg.url}: {exc}") from None
        if not 200 <= status < 300:
            raise _Unreadable(CheckKind.UNHEALTHY, f"{cfg.url} answered HTTP {status}")
        try:
            data = json.loads(body)
        except ValueError:
            raise _Unreadable(CheckKind.CONTRACT_VIOLATION,
                              f"{cfg.url} did not answer JSON") from None
        return _number(data, cfg.path, cfg.url), \
            (_number(data, cfg.pending_path, cfg.url) if cfg.pending_path else None)

    async def close(self) -> None:
        if self._link is not None:
            await self._link.drop()
        await super().close()


class _Unreadable(Exception):
    def __init__(self, kind: CheckKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _number(data: Any, path: str, url: str) -> float:
    value = lookup(data, path)
    if value is MISSING or isinstance(value, bool) or not isinstance(value, int | float):
        got = "nothing" if value is MISSING else repr(value)[:40]
        raise _Unreadable(CheckKind.CONTRACT_VIOLATION,
                          f"{url}: {path} should be a number, found {got}")
    return float(value)
