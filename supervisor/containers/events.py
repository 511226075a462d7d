"""Docker's event stream kept open: reconnect with backoff when dockerd goes away, resume from
the last event seen, and say in the status what is wrong while it cannot connect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger

from supervisor.clients.docker import DockerClient, DockerUnavailable
from supervisor.core.tasks import cancel_and_wait

FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 15.0

EventHandler = Callable[[dict[str, Any]], Awaitable[None]]
ConnectHandler = Callable[[], Awaitable[None]]


class EventStream:
    def __init__(self, docker: DockerClient, on_event: EventHandler,
                 on_connect: ConnectHandler) -> None:
        self.docker = docker
        self.on_event = on_event
        self.on_connect = on_connect  # after every (re)connect: catch up on what was missed
        self.connected = False
        self.last_error: str | None = None
        self.connects = 0
        self.events = 0
        self._since: float | None = None  # unix time of the last event handled
        self._last_nano = 0
        self._at_last: set[tuple[str, str]] = set()  # events handled at _last_nano
        self._task: asyncio.Task[None] | None = None
        self._connected_at: float | None = None  # monotonic

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="docker-events")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"host": self.docker.host, "connected": self.connected,
                               "connects": self.connects, "events": self.events}
        if self.connected and self._connected_at is not None:
            out["connectedForS"] = round(time.monotonic() - self._connected_at, 1)
        if self.last_error:
            out["lastError"] = self.last_error
        return out

    async def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        while True:
            try:
                await self.docker.ping()
                self._connected()
                backoff = FIRST_BACKOFF_S
                await self.on_connect()
                async for event in self.docker.events(since=self._since):
                    await self._handle(event)
                why = f"dockerd closed the event stream of {self.docker.where} (restarting?)"
            except DockerUnavailable as exc:
                why = str(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in a handler must not end the stream for good
                logger.opt(exception=exc).error("docker event handling failed")
                why = f"event handling failed: {exc!r}"
            self._lost(why)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _connected(self) -> None:
        if self.last_error is not None:
            logger.info("Docker events: connected to {} again", self.docker.where)
        self.connected = True
        self.connects += 1
        self.last_error = None
        self._connected_at = time.monotonic()

    def _lost(self, why: str) -> None:
        # Said once per distinct reason, not at every retry of the backoff.
        if why != self.last_error:
            logger.warning("Docker events: {}; retrying with backoff", why)
        self.connected = False
        self.last_error = why

    async def _handle(self, event: dict[str, Any]) -> None:
        nano = int(event.get("timeNano") or 0)
        key = (str(event.get("id", "")), str(event.get("status") or event.get("Action")))
        # After a reconnect `since` replays from the last event on: skip what was handled.
        if nano < self._last_nano or (nano == self._last_nano and key in self._at_last):
            return
        if nano > self._last_nano:
            self._last_nano, self._at_last = nano, set()
            self._since = nano / 1e9
        self._at_last.add(key)
        self.events += 1
        await self.on_event(event)
