"""Keeps one MQTT listener per broker in step with what the heartbeat checks expect."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from supervisor.core.check_result import CheckResult
from supervisor.push.board import HeartbeatBoard
from supervisor.push.mqtt_listener import MqttListener


class PushHub:
    def __init__(self, board: HeartbeatBoard, on_failure: Callable[[str, CheckResult], None],
                 on_alive: Callable[[str], None]) -> None:
        self.board = board
        self.listeners: dict[str, MqttListener] = {}
        self._running = False
        self._sync_pending = False
        self._sync_task: asyncio.Task[None] | None = None
        board.on_failure = on_failure
        board.on_alive = on_alive
        board.on_change = self._schedule_sync

    async def start(self) -> None:
        self._running = True
        await self.sync()

    async def stop(self) -> None:
        self._running = False
        for listener in self.listeners.values():
            await listener.stop()
        self.listeners.clear()
        self.board.on_failure = self.board.on_alive = self.board.on_change = None

    async def sync(self) -> None:
        """Start, restart or stop listeners so each broker has exactly the wanted topics."""
        self._sync_pending = False
        if not self._running:
            return
        wanted = self.board.subscriptions()
        for broker in list(self.listeners):
            listener = self.listeners[broker]
            if wanted.get(broker) != listener.subscriptions:
                await listener.stop()
                del self.listeners[broker]
        for broker, subs in wanted.items():
            if broker not in self.listeners:
                listener = self.listeners[broker] = MqttListener(broker, subs, self.board)
                listener.start()

    def _schedule_sync(self) -> None:
        if self._running and not self._sync_pending:
            self._sync_pending = True
            try:
                self._sync_task = asyncio.get_running_loop().create_task(self.sync())
            except RuntimeError:
                self._sync_pending = False
