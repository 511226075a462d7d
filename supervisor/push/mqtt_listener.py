"""MQTT listener: one connection per broker, subscribed to heartbeat and last-will topics.

aiomqtt 2.x does not reconnect by itself: this loop catches MqttError, backs off and
connects and subscribes again. A bad payload is logged with the field at fault and dropped;
it never ends the loop.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import TYPE_CHECKING

from loguru import logger

from supervisor.clients.mqtt import parse_broker
from supervisor.core.redaction import redact_text
from supervisor.core.tasks import cancel_and_wait
from supervisor.push.board import HeartbeatBoard
from supervisor.push.payload import BadPayload, parse_heartbeat

if TYPE_CHECKING:
    import aiomqtt

Subscriptions = dict[str, tuple[str, str, str]]  # topic → (service, role, offline payload)


class MqttListener:
    def __init__(self, broker: str, subscriptions: Subscriptions, board: HeartbeatBoard,
                 max_backoff_s: float = 5.0) -> None:
        self.broker = broker
        self.subscriptions = subscriptions
        self.board = board
        self.max_backoff_s = max_backoff_s
        self.connected = asyncio.Event()
        self.connects = 0
        self.rejected = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"mqtt-listener:{self.safe_broker}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    @property
    def safe_broker(self) -> str:
        return redact_text(self.broker)

    async def _run(self) -> None:
        import aiomqtt  # only a daemon with MQTT push signals pays for it

        host, port, user, password = parse_broker(self.broker)
        backoff = 0.2
        failing_since_logged = False
        while True:
            try:
                async with aiomqtt.Client(host, port, username=user, password=password,
                                          identifier=f"soulfra-push-{secrets.token_hex(4)}",
                                          keepalive=10, timeout=5) as client:
                    for topic in self.subscriptions:
                        await client.subscribe(topic, qos=1)
                    self.connects += 1
                    self.connected.set()
                    backoff = 0.2
                    if failing_since_logged:
                        logger.info("MQTT listener reconnected to {}", self.safe_broker)
                        failing_since_logged = False
                    async for message in client.messages:
                        self.handle(str(message.topic), message.payload, message.topic)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                if not failing_since_logged:
                    logger.warning("MQTT listener lost {}: {}; reconnecting with backoff",
                                   self.safe_broker, exc)
                    failing_since_logged = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    def handle(self, topic: str, payload: object, topic_obj: aiomqtt.Topic | None = None) -> None:
        """Route one message; never raises (a bad payload is logged and dropped)."""
        for pattern, (service, role, offline) in self.subscriptions.items():
            matches = topic_obj.matches(pattern) if topic_obj is not None else topic == pattern
            if not matches:
                continue
            try:
                raw = payload if isinstance(payload, bytes | str) else (
                    None if payload is None else str(payload))
                if role == "will":
                    text = raw.decode(errors="replace") if isinstance(raw, bytes) else (raw or "")
                    if text.strip() == offline:
                        self.board.will(service, text)
                    else:
                        self.board.beat(service, source="mqtt-status")
                else:
                    counters, note = parse_heartbeat(raw, what="payload")
                    self.board.beat(service, counters, note, source="mqtt")
            except (BadPayload, UnicodeDecodeError) as exc:
                self.rejected += 1
                where = f"field {exc.field!r}" if isinstance(exc, BadPayload) and exc.field \
                    else "payload"
                error = f"invalid heartbeat on {topic}: {where}: " \
                        f"{exc.message if isinstance(exc, BadPayload) else exc}"
                self.board.reject(service, error)
                logger.warning("{}: {}", service, error)
            except Exception:  # our bug: logged, and the listener goes on
                logger.exception("MQTT listener failed on a message for {}", service)
