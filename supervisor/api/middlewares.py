"""Middlewares every request passes: errors leave as JSON, mutations need the API token
(except the SDK ingest routes, which authenticate with a service's DSN key)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from loguru import logger

from supervisor.api.context import DAEMON, json_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Routes that authenticate with a service's DSN key, not the API token: the Sentry SDKs'
# ingest endpoints (supervisor/api/routes/ingest.py), reached by services and browsers.
# POST /api/monitoring/errors takes the API token or a service's key (it checks itself).
KEY_AUTHENTICATED = frozenset({"sdk-envelope", "sdk-store", "error-reports"})


def authenticated_by_key(request: web.Request) -> bool:
    return request.match_info.route.name in KEY_AUTHENTICATED


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON, whatever raised it."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        out = json_error(exc.status, exc.reason)
        if "Allow" in exc.headers:  # a 405 says which methods the path takes (RFC 9110)
            out.headers["Allow"] = exc.headers["Allow"]
        return out
    except Exception:
        logger.exception("API handler failed: {} {}", request.method, request.path)
        return json_error(500, "internal error; see the daemon's log")


def _signed_ack_link(request: web.Request) -> bool:
    """A message's acknowledgement link carries its own signature (the handler checks it)."""
    return "sig" in request.query and request.path.startswith("/api/monitoring/incidents/") \
        and request.path.endswith("/ack")


def has_api_token(request: web.Request) -> bool:
    """True when no token is configured, or the request carries it."""
    token = request.app[DAEMON].settings.api_token
    # An empty SOULFRA_API_TOKEN counts as none, as it does for the loopback rule.
    expected = token.get_secret_value().strip().encode() if token is not None else b""
    if not expected:
        return True
    scheme, _, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":  # RFC 6750: the scheme is case-insensitive
        given = ""
    # Takes the same time wherever the two differ.
    return hmac.compare_digest(given.strip().encode(), expected)


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """State-changing requests need the bearer token when one is configured."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and \
            not authenticated_by_key(request) and not _signed_ack_link(request) and \
            not has_api_token(request):
        return json_error(401, "missing or wrong API token",
                          hint="send Authorization: Bearer <SOULFRA_API_TOKEN>")
    return await handler(request)
