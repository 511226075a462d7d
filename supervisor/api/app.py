"""Builds the aiohttp application: middlewares for JSON errors and the API token, routes."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from loguru import logger

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

DAEMON: web.AppKey[Daemon] = web.AppKey("daemon")
MAX_BODY = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, "status": status, **extra}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON, whatever raised it."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return json_error(exc.status, exc.reason)
    except Exception:
        logger.exception("API handler failed: {} {}", request.method, request.path)
        return json_error(500, "internal error; see the daemon's log")


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """State-changing requests need the bearer token when one is configured."""
    token = request.app[DAEMON].settings.api_token
    # An empty SOULFRA_API_TOKEN counts as none, as it does for the loopback rule.
    expected = token.get_secret_value().strip().encode() if token is not None else b""
    if expected and request.method not in ("GET", "HEAD", "OPTIONS"):
        scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer":  # RFC 6750: the scheme is case-insensitive
            given = ""
        # Takes the same time wherever the two differ.
        if not hmac.compare_digest(given.strip().encode(), expected):
            return json_error(401, "missing or wrong API token",
                              hint="send Authorization: Bearer <SOULFRA_API_TOKEN>")
    return await handler(request)


def create_app(daemon: Daemon) -> web.Application:
    from supervisor.api import openapi
    from supervisor.api.routes import (
        alerts,
        dashboard,
        errors,
        faults,
        health,
        heartbeat,
        history,
        metrics,
        monitoring,
        recover,
        reload,
        services,
        silences,
        stream,
    )

    app = web.Application(middlewares=[monitoring.count_requests, json_errors, require_token],
                          client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    for module in (health, errors, recover, services, heartbeat, monitoring, alerts,
                   silences, reload):
        app.add_routes(module.routes)
    for module in (stream, history, metrics, openapi, dashboard):
        app.add_routes(module.routes)
    stream.setup(app, daemon)
    history.setup(app, daemon)
    if daemon.settings.fault_injection:
        app.add_routes(faults.routes)
    return app
