"""Rations the API's connections, so that idle or slow clients cannot make the daemon blind.

Every connection takes a file descriptor, and a daemon out of descriptors cannot open the
sockets its checks need (issue 13: 1,100 idle connections made /health unreachable and turned
the daemon's EMFILE into a healthy service's failure). So:

- at most `max_connections` are open at once; a new one beyond that takes the place of the
  oldest connection that has not finished sending its first request's headers, or is closed at
  once when every open connection is busy;
- a connection that has not sent its first request's headers within `header_timeout_s` is
  closed (slowloris). Idle keep-alive connections are closed by aiohttp's keepalive_timeout.

The guard wraps aiohttp's protocol factory: each connection's protocol is aiohttp's own
RequestHandler, with this one in front of it to watch the first bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, cast

from loguru import logger

HEADER_TIMEOUT_S = 5.0
HEADERS_END = b"\r\n\r\n"


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, with a deadline for its first headers."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.transport: asyncio.Transport | None = None
        self.opened = time.monotonic()
        self.awaiting_headers = True
        self._tail = b""
        self._deadline: asyncio.TimerHandle | None = None
        self.started = False  # aiohttp's protocol saw connection_made

    # -- watched --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transports are not asyncio.Transport subclasses, but speak the same API
        self.transport = cast(asyncio.Transport, transport)
        transport = self.transport
        if not self.guard.admit(self):
            transport.abort()
            return
        self._deadline = asyncio.get_running_loop().call_later(
            self.guard.header_timeout_s, self._too_slow)
        self.started = True
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.awaiting_headers:
            seen = self._tail + data
            if HEADERS_END in seen:
                self._headers_done()
            else:
                self._tail = seen[-(len(HEADERS_END) - 1):]
        self.inner.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        self.guard.release(self)
        if self.started:
            self.inner.connection_lost(exc)

    # -- passed on ------------------------------------------------------------------------
    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- ours -----------------------------------------------------------------------------
    def _headers_done(self) -> None:
        self.awaiting_headers = False
        self._tail = b""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.awaiting_headers and self.transport is not None:
            self.guard.closed_slow += 1
            self.transport.close()

    def evict(self) -> None:
        self.guard.evicted += 1
        if self.transport is not None:
            self.transport.close()


class ConnectionGuard:
    """The protocol factory given to loop.create_server, in front of aiohttp's."""

    def __init__(self, factory: Callable[[], Any], max_connections: int,
                 header_timeout_s: float = HEADER_TIMEOUT_S) -> None:
        self.factory = factory
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.open: dict[_Guarded, None] = {}  # insertion order: oldest first
        self.refused = 0
        self.evicted = 0
        self.closed_slow = 0

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self, self.factory())

    def admit(self, conn: _Guarded) -> bool:
        if len(self.open) >= self.max_connections:
            waiting = next((c for c in self.open if c.awaiting_headers), None)
            if waiting is None:
                self.refused += 1
                if self.refused in (1, 10, 100) or self.refused % 1000 == 0:
                    logger.warning("API at its {} connections, all busy: refused {} so far",
                                   self.max_connections, self.refused)
                return False
            del self.open[waiting]
            waiting.evict()
        self.open[conn] = None
        return True

    def release(self, conn: _Guarded) -> None:
        self.open.pop(conn, None)

    def to_dict(self) -> dict[str, int]:
        return {"open": len(self.open), "max": self.max_connections, "refused": self.refused,
                "evicted": self.evicted, "closedSlow": self.closed_slow,
                "headerTimeoutS": round(self.header_timeout_s)}

