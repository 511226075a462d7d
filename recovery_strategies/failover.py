"""failover: point clients at the next healthy backend, and back to the primary once it heals.

The choice is written where clients read it: a Redis key, a retained MQTT topic, or a file
(written atomically). The first backend is the primary. A backend tied to a service is healthy
when that service is up; one without a service is taken as healthy. Failing over does not
heal the service itself, so the service stays in `recovering` until its own checks pass; then
(with `switchBack`) the primary is made active again.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from recovery_strategies import registry
from recovery_strategies.base import Outcome, RecoveryContext, RecoveryStrategy, StrategyConfig
from supervisor.clients.mqtt import parse_broker
from supervisor.core.redaction import redact_text

if TYPE_CHECKING:
    import aiomqtt

UP = ("healthy", "degraded")


class Backend(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    name: str = Field(min_length=1)
    value: str = Field(description="What is written for clients when this backend is active.")
    service: str | None = Field(default=None, description="The service whose health decides "
                                                          "whether this backend is usable.")


class FailoverConfig(StrategyConfig):
    strategy: Literal["failover"] = "failover"
    backends: list[Backend] = Field(min_length=2, description="The first is the primary.")
    redis_url: str | None = Field(default=None, alias="redisUrl", pattern=r"^rediss?://")
    key: str | None = Field(default=None, description="Redis key holding the active value.")
    file: str | None = Field(default=None, description="File holding the active value.",
                             json_schema_extra={"pattern": "^/"})
    mqtt_url: str | None = Field(default=None, alias="mqttUrl",
                                 description="Broker, mqtt://host:1883, for a retained topic.")
    topic: str | None = Field(default=None, description="Retained MQTT topic holding the "
                                                        "active value.")
    timeout: float = Field(default=5000, gt=0, description="ms for each read and write.")
    switch_back: bool = Field(default=True, alias="switchBack",
                              description="Make the primary active again when it is healthy.")

    @model_validator(mode="after")
    def _one_target(self) -> FailoverConfig:
        redis = self.redis_url is not None or self.key is not None
        mqtt = self.mqtt_url is not None or self.topic is not None
        if redis and (self.redis_url is None or self.key is None):
            raise ValueError("a Redis target needs both redisUrl and key")
        if mqtt and (self.mqtt_url is None or self.topic is None):
            raise ValueError("an MQTT target needs both mqttUrl and topic")
        if [redis, mqtt, self.file is not None].count(True) != 1:
            raise ValueError("needs exactly one target: redisUrl + key, mqttUrl + topic, "
                             "or file")
        if self.file is not None and not os.path.isabs(self.file):
            raise ValueError("file must be an absolute path")
        if self.mqtt_url is not None:
            parse_broker(self.mqtt_url)
        return self


def _write_file(path: str, value: str) -> None:
    folder = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".failover-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _read_file(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


@registry.register("failover")
class Failover(RecoveryStrategy):
    name: ClassVar[str] = "failover"
    config_model: ClassVar[type[StrategyConfig]] = FailoverConfig
    verifies_service: ClassVar[bool] = False
    config: FailoverConfig

    @property
    def target(self) -> str:
        if self.config.file:
            return f"file {self.config.file}"
        if self.config.topic:
            return f"topic {self.config.topic} on {redact_text(self.config.mqtt_url or '')}"
        return f"key {self.config.key} on {redact_text(self.config.redis_url or '')}"

    @staticmethod
    def _failures() -> tuple[type[Exception], ...]:
        """What reading or writing the target may raise. Imported here: redis-py and aiomqtt
        cost ~7 MB, paid only by a daemon whose ladder runs a failover."""
        import aiomqtt
        from redis.exceptions import RedisError

        return RedisError, aiomqtt.MqttError, OSError

    def _mqtt(self) -> aiomqtt.Client:
        import aiomqtt

        host, port, user, password = parse_broker(self.config.mqtt_url or "")
        return aiomqtt.Client(host, port, username=user, password=password,
                              timeout=self.config.timeout / 1000)

    async def _read_topic(self) -> str | None:
        """The retained value, if any: it arrives at once on subscribing, or not at all."""
        async with self._mqtt() as client:
            await client.subscribe(self.config.topic or "", qos=1)
            try:
                async with asyncio.timeout(min(1.0, self.config.timeout / 1000)):
                    async for message in client.messages:
                        payload = message.payload
                        if isinstance(payload, bytes | bytearray):
                            return bytes(payload).decode(errors="replace").strip()
                        return None if payload is None else str(payload)
            except TimeoutError:
                return None
        return None

    async def _write_topic(self, value: str) -> None:
        async with self._mqtt() as client:
            await client.publish(self.config.topic or "", value, qos=1, retain=True)

    def plan(self) -> str:
        names = " -> ".join(b.name for b in self.config.backends)
        return f"switch {self.target} to the next healthy backend of {names}"

    async def _read(self, ctx: RecoveryContext) -> str | None:
        if self.config.file:
            return await asyncio.to_thread(_read_file, self.config.file)
        if self.config.topic:
            return await self._read_topic()
        assert ctx.redis is not None and self.config.redis_url and self.config.key
        value = await ctx.redis.get(self.config.redis_url).get(self.config.key)
        return None if value is None else str(value)

    async def _write(self, ctx: RecoveryContext, value: str) -> None:
        if self.config.file:
            await asyncio.to_thread(_write_file, self.config.file, value)
            return
        if self.config.topic:
            await self._write_topic(value)
            return
        assert ctx.redis is not None and self.config.redis_url and self.config.key
        await ctx.redis.get(self.config.redis_url).set(self.config.key, value)

    def _usable(self, ctx: RecoveryContext, backend: Backend) -> bool:
        if backend.service is None:
            return True
        return backend.service != self.service and ctx.state_of(backend.service) in UP

    async def run(self, ctx: RecoveryContext) -> Outcome:
        backends = self.config.backends
        failures = self._failures()
        try:
            current_value = await self._read(ctx)
        except failures as exc:
            return Outcome(False, f"cannot read {self.target}: {redact_text(str(exc))}")
        current = next((i for i, b in enumerate(backends) if b.value == current_value), 0)
        order = [backends[(current + k) % len(backends)] for k in range(1, len(backends))]
        nxt = next((b for b in order if self._usable(ctx, b)), None)
        if nxt is None:
            return Outcome(False, f"no healthy backend to fail over to from "
                                  f"{backends[current].name}")
        what = f"{self.target}: {backends[current].name} -> {nxt.name}"
        if ctx.dry_run:
            return Outcome(True, f"dry run: would switch {what}")
        try:
            await self._write(ctx, nxt.value)
        except failures as exc:
            return Outcome(False, f"cannot write {self.target}: {redact_text(str(exc))}")
        return Outcome(True, f"switched {what}", details={"active": nxt.name,
                                                          "previous": backends[current].name})

    async def on_healthy(self, ctx: RecoveryContext) -> Outcome | None:
        if not self.config.switch_back:
            return None
        primary = self.config.backends[0]
        if primary.service is not None and primary.service != self.service \
                and ctx.state_of(primary.service) not in UP:
            return None
        failures = self._failures()
        try:
            current = await self._read(ctx)
            if current is None or current == primary.value:
                return None
            await self._write(ctx, primary.value)
        except failures as exc:
            return Outcome(False, f"cannot switch {self.target} back: {redact_text(str(exc))}")
        name = next((b.name for b in self.config.backends if b.value == current), current)
        return Outcome(True, f"switched {self.target} back: {name} -> {primary.name}")
