"""What every route shares: the key under which the daemon is found, and the JSON error body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")


def json_error(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "status": status, **extra}, status=status)
