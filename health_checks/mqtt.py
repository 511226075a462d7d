"""MQTT check: a publish/subscribe round trip through the broker on a private topic.

The connection is kept between runs; a broken one is CONNECTION_LOST and the next run connects
again (aiomqtt does not reconnect by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, field_validator

from health_checks import registry
from health_checks.base import (
    CheckConfig,
    CheckEnv,
    CheckKind,
    CheckResult,
    HealthCheck,
    elapsed_ms,
)
from supervisor.clients.mqtt import parse_broker
from supervisor.core.redaction import redact_text

if TYPE_CHECKING:
    import aiomqtt


class MqttCheckConfig(CheckConfig):
    type: Literal["mqtt"] = "mqtt"
    broker: str = Field("mqtt://127.0.0.1:1883", description="mqtt://[user:pass@]host:port")
    topic_prefix: str = Field("soulfra/probe", alias="topicPrefix",
                              description="The round trip uses <prefix>/<service>/<random>.")

    @field_validator("broker")
    @classmethod
    def _broker(cls, v: str) -> str:
        parse_broker(v)
        return v


@registry.register("mqtt")
class MqttCheck(HealthCheck):
    type_name: ClassVar[str] = "mqtt"
    config_model: ClassVar[type[CheckConfig]] = MqttCheckConfig
    config: MqttCheckConfig

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self.topic = f"{self.config.topic_prefix}/{service}/{secrets.token_hex(4)}"
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[bytes, asyncio.Future[None]] = {}
        self.connects = 0

    async def run(self) -> CheckResult:
        import aiomqtt  # ~1 MB with paho: only when a service has an MQTT check

        cfg = self.config
        started = time.perf_counter()
        was_connected = self._client is not None
        safe = redact_text(cfg.broker)
        token = secrets.token_hex(8).encode()
        try:
            async with asyncio.timeout(cfg.timeout_s):
                client = await self._connect()
                # One loop pass lets the socket reader see a close that already happened;
                # publishing on a closed socket makes aiomqtt log a traceback from inside.
                await asyncio.sleep(0)
                if client._disconnected.done():  # noqa: SLF001 - aiomqtt has no public flag
                    raise aiomqtt.MqttError("the broker closed the connection")
                arrived = asyncio.get_running_loop().create_future()
                arrived.add_done_callback(_retrieve)
                self._waiting[token] = arrived
                # The publish runs beside the wait: on a dead connection it waits forever for
                # its confirmation, while the reader notices the drop at once and wakes us.
                publish = asyncio.create_task(client.publish(self.topic, token, qos=0))
                try:
                    await arrived
                finally:
                    publish.cancel()
                    await asyncio.gather(publish, return_exceptions=True)
        except TimeoutError:
            await self._disconnect()
            return self.result(CheckKind.STALLED, elapsed_ms(started),
                               f"no round trip through {safe} within {cfg.timeout:.0f} ms")
        except aiomqtt.MqttError as exc:
            await self._disconnect()
            how = "connection lost" if was_connected else "cannot connect"
            return self.result(CheckKind.CONNECTION_LOST, elapsed_ms(started),
                               f"mqtt {safe}: {how}: {exc}", wasConnected=was_connected)
        finally:
            self._waiting.pop(token, None)
        return self.result(CheckKind.HEALTHY, elapsed_ms(started), connects=self.connects)

    async def _connect(self) -> aiomqtt.Client:
        import aiomqtt  # ~1 MB with paho: only when a service has an MQTT check

        if self._client is not None and (self._reader is None or not self._reader.done()):
            return self._client
        await self._disconnect()
        host, port, user, password = parse_broker(self.config.broker)
        stack = contextlib.AsyncExitStack()
        client = aiomqtt.Client(host, port, username=user, password=password,
                                identifier=f"soulfra-check-{self.service}-{secrets.token_hex(3)}",
                                keepalive=max(5, int(self.config.timeout_s * 4)),
                                timeout=self.config.timeout_s)
        try:
            await stack.enter_async_context(client)
            await client.subscribe(self.topic, qos=0)
        except BaseException:
            await _close_quietly(stack)
            raise
        self._stack, self._client = stack, client
        self._reader = asyncio.create_task(self._read(client), name=f"mqtt-check:{self.service}")
        self.connects += 1
        return client

    async def _read(self, client: aiomqtt.Client) -> None:
        import aiomqtt  # ~1 MB with paho: only when a service has an MQTT check

        with contextlib.suppress(aiomqtt.MqttError):
            async for message in client.messages:
                payload = message.payload
                if isinstance(payload, bytes):
                    fut = self._waiting.get(payload)
                    if fut is not None and not fut.done():
                        fut.set_result(None)
        # The broker went away: wake any waiter so the run reports it now, not at its timeout.
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(aiomqtt.MqttError("disconnected during the round trip"))

    async def _disconnect(self) -> None:
        reader, self._reader = self._reader, None
        stack, self._stack = self._stack, None
        self._client = None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        if stack is not None:
            await _close_quietly(stack)

    async def close(self) -> None:
        await self._disconnect()
        await super().close()

def _retrieve(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()  # read, so an abandoned waiter does not log "never retrieved"


async def _close_quietly(stack: contextlib.AsyncExitStack) -> None:
    import aiomqtt  # ~1 MB with paho: only when a service has an MQTT check

    try:
        async with asyncio.timeout(2):
            await stack.aclose()
    except (aiomqtt.MqttError, TimeoutError, OSError):
        pass
