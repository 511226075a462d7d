"""The in-process event bus: every reaction to a state change subscribes here.

Each subscriber gets its own queue and task, so a slow subscriber (the store, an alert
channel) never delays the checks or another subscriber. The newest events are also kept in a
ring buffer for the API.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from loguru import logger

Handler = Callable[["Event"], Awaitable[None]]


@dataclass(slots=True)
class Event:
    type: str
    service: str | None = None
    correlation_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    id: int = 0
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "service": self.service,
                "correlationId": self.correlation_id, "at": self.at, "data": self.data}


class _Subscriber:
    def __init__(self, name: str, handler: Handler, types: frozenset[str] | None,
                 maxsize: int) -> None:
        self.name = name
        self.handler = handler
        self.types = types
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.task: asyncio.Task[None] | None = None

    def offer(self, event: Event) -> None:
        if self.types is not None and event.type not in self.types:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                logger.warning("event subscriber {} is behind; dropped {} events",
                               self.name, self.dropped)

    async def loop(self) -> None:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            try:
                await self.handler(event)
            except Exception:
                logger.exception("event subscriber {} failed on {}", self.name, event.type)


class EventBus:
    def __init__(self, ring_size: int = 1000) -> None:
        self._subs: list[_Subscriber] = []
        self._ids = itertools.count(1)
        self.recent: deque[Event] = deque(maxlen=ring_size)

    def subscribe(self, name: str, handler: Handler, types: Iterable[str] | None = None,
                  maxsize: int = 100_000) -> None:
        sub = _Subscriber(name, handler, frozenset(types) if types is not None else None,
                          maxsize)
        self._subs.append(sub)
        try:
            sub.task = asyncio.get_running_loop().create_task(sub.loop(), name=f"bus:{name}")
        except RuntimeError:
            pass  # started by start() once a loop runs

    def dropped(self) -> dict[str, int]:
        """Events each slow subscriber had to drop (its queue was full), by subscriber."""
        return {s.name: s.dropped for s in self._subs if s.dropped}

    async def start(self) -> None:
        for sub in self._subs:
            if sub.task is None:
                sub.task = asyncio.create_task(sub.loop(), name=f"bus:{sub.name}")

    def publish(self, type: str, service: str | None = None,
                correlation_id: str | None = None, **data: Any) -> Event:
        event = Event(type=type, service=service, correlation_id=correlation_id, data=data,
                      id=next(self._ids))
        self.recent.append(event)
        for sub in self._subs:
            sub.offer(event)
        return event

    async def drain(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (a bound, kept API)
        """Let every subscriber finish what is queued, then stop them."""
        for sub in self._subs:
            try:
                sub.queue.put_nowait(None)
            except asyncio.QueueFull:
                pass
        tasks = [s.task for s in self._subs if s.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for t in pending:
                t.cancel()
