"""Serves the API: aiohttp's runner behind the connection guard, on the configured address."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from aiohttp import web

from supervisor.api.connections import ConnectionGuard

# Idle keep-alive connections are closed after this; the next request simply reconnects.
KEEPALIVE_S = 15.0
KERNEL_BACKLOG = 512


class ApiServer:
    def __init__(self, app: web.Application, max_connections: int, accept_burst: int,
                 shutdown_timeout_s: float,
                 logger: logging.Logger | logging.LoggerAdapter[Any] | None = None) -> None:
        # `logger`: where aiohttp reports what clients send wrong (not the daemon's errors)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                    logger=logger or logging.getLogger("aiohttp.server"),
                                    shutdown_timeout=shutdown_timeout_s,
                                    keepalive_timeout=KEEPALIVE_S)
        self.max_connections = max_connections
        self.accept_burst = accept_burst
        self.guard: ConnectionGuard | None = None
        self._listening: list[asyncio.Server] = []

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (the one asked for, or the free one picked for 0)."""
        await self.runner.setup()
        assert self.runner.server is not None
        self.guard = ConnectionGuard(self.runner.server, self.max_connections)
        loop = asyncio.get_running_loop()
        for sock in await _bound_sockets(host, port):
            # asyncio accepts as many connections per wake-up as the listen backlog, and
            # they hold fds until the guard sees them: so a small burst under a low fd limit,
            # and the kernel's queue set long again after create_server's listen().
            self._listening.append(await loop.create_server(self.guard, sock=sock,
                                                            backlog=self.accept_burst))
            sock.listen(KERNEL_BACKLOG)
        return int(self._listening[0].sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, then let aiohttp finish (within its timeout) what is open."""
        for server in self._listening:
            server.close()
        self._listening = []
        await self.runner.cleanup()

    def to_dict(self) -> dict[str, int]:
        return self.guard.to_dict() if self.guard is not None else {}


async def _bound_sockets(host: str, port: int) -> list[socket.socket]:
    """A bound TCP socket for each address `host` resolves to, as loop.create_server makes."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise OSError(exc.errno, f"error while attempting to bind on address "
                                         f"{address!r}: {exc.strerror}") from None
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
