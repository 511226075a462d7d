"""Events across nodes for other tools (SOULFRA_EVENTS_MQTT_URL): every state change of this
node's services is published retained to `soulfra/<node>/<service>/state`, and the node says
`online` retained on `soulfra/<node>/status`; its last will, published by the broker when the
connection drops without a goodbye (a crash, a SIGKILL, a cut network), says `offline` there.

A state payload is JSON: {"node", "service", "state", "previous", "at" (ms), "reason"}. On
every (re)connect the current state of every service is published again, so a subscriber
that comes late, or a broker that restarted without persistence, still has them all.
aiomqtt does not reconnect by itself: the loop backs off and connects again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from supervisor.clients.mqtt import parse_broker
from supervisor.core.events import Event, EventBus
from supervisor.core.redaction import redact_text
from supervisor.core.tasks import cancel_and_wait

ONLINE, OFFLINE = "online", "offline"


def state_topic(node: str, service: str) -> str:
    return f"soulfra/{node}/{service}/state"


def status_topic(node: str) -> str:
    return f"soulfra/{node}/status"


def state_payload(node: str, service: str, state: str, previous: str | None = None,
                  at: float | None = None, reason: str = "") -> str:
    return json.dumps({"node": node, "service": service, "state": state, "previous": previous,
                       "at": round((at or time.time()) * 1000), "reason": reason[:300]})


class StatePublisher:
    def __init__(self, broker: str, node: str, bus: EventBus,
                 states: Callable[[], dict[str, str]], max_backoff_s: float = 5.0) -> None:
        self.broker = broker
        self.node = node
        self.states = states
        self.max_backoff_s = max_backoff_s
        self.pending: dict[str, str] = {}  # topic -> newest payload not yet published
        self.published = 0
        self.connected = False
        bus.subscribe("mqtt-states", self._on_event, types={"state_changed"})
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="mqtt-states")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    async def _on_event(self, event: Event) -> None:
        if event.service is None:
            return
        d = event.data
        self.pending[state_topic(self.node, event.service)] = state_payload(
            self.node, event.service, str(d.get("state")), str(d.get("previous")), event.at,
            str(d.get("reason", "")))
        self._wake.set()

    async def _run(self) -> None:
        import aiomqtt  # only a daemon that publishes its states pays for it

        host, port, user, password = parse_broker(self.broker)
        will = aiomqtt.Will(status_topic(self.node), OFFLINE, qos=1, retain=True)
        backoff, logged = 0.2, False
        while True:
            try:
                async with aiomqtt.Client(host, port, username=user, password=password,
                                          identifier=f"soulfra-node-{self.node}-"
                                                     f"{secrets.token_hex(3)}",
                                          keepalive=10, timeout=5, will=will) as client:
                    await client.publish(status_topic(self.node), ONLINE, qos=1, retain=True)
                    for service, state in self.states().items():  # late subscribers, too
                        self.pending.setdefault(state_topic(self.node, service),
                                                state_payload(self.node, service, state))
                    self.connected, backoff = True, 0.2
                    if logged:
                        logger.info("MQTT states: reconnected to {}", redact_text(self.broker))
                        logged = False
                    try:
                        await self._publish_forever(client)
                    except asyncio.CancelledError:  # a clean stop sends no will: say it
                        with contextlib.suppress(Exception):
                            async with asyncio.timeout(1.0):
                                await client.publish(status_topic(self.node), OFFLINE, qos=1,
                                                     retain=True)
                        raise
            except aiomqtt.MqttError as exc:
                self.connected = False
                if not logged:
                    logger.warning("MQTT states: lost {}: {}; reconnecting with backoff",
                                   redact_text(self.broker), exc)
                    logged = True
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.max_backoff_s)

    async def _publish_forever(self, client: Any) -> None:
        while True:
            while self.pending:
                topic, payload = next(iter(self.pending.items()))
                await client.publish(topic, payload, qos=1, retain=True)
                if self.pending.get(topic) == payload:  # not replaced meanwhile
                    del self.pending[topic]
                self.published += 1
            self._wake.clear()
            await self._wake.wait()

    def to_dict(self) -> dict[str, Any]:
        return {"broker": redact_text(self.broker), "connected": self.connected,
                "published": self.published, "pending": len(self.pending)}
