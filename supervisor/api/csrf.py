"""Refuse state-changing requests that a browser sends on behalf of another web site.

Without a token (the loopback default) any page the operator has open could otherwise POST to
http://127.0.0.1:3001 and pause, restart or reload: a `text/plain` body needs no CORS preflight.
Two defences, both needed, neither in the way of curl, the CLI or the dashboard:

- bodies must be `application/json` (supervisor/api/params.py): a browser asks first (CORS
  preflight) before it sends that cross-origin, and this API never says yes;
- a mutation whose `Sec-Fetch-Site` is `cross-site` or `same-site` (another port of the same
  host is same-site), or whose `Origin` is not this server's own, is refused with 403.
  Browsers send these headers; command-line clients send neither and are not affected.

A route that is meant to be called cross-site (an ingest endpoint that browsers POST to with
CORS) says so with `@cross_site_allowed`, or `@cross_site_allowed_if(predicate)` when only some
of its requests are (an acknowledgement link's `?sig=`, a single-use capability no other site
can know); nothing else is exempt. Behind a reverse proxy the browser's origin is the public
one: `alerts.publicUrl` in services.json counts as the API's own origin too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from supervisor.api.context import DAEMON, json_error

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MARK = "soulfra_cross_site_allowed"
Predicate = Callable[[web.Request], bool]


def cross_site_allowed_if(when: Predicate) -> Callable[[H], H]:
    """Mark a route handler as callable from other sites for requests where `when` holds."""
    def mark(handler: H) -> H:
        setattr(handler, _MARK, when)
        return handler
    return mark


def cross_site_allowed(handler: H) -> H:
    """Mark a route handler as callable from other sites (above or below @routes.post)."""
    return cross_site_allowed_if(lambda request: True)(handler)


def is_cross_site_allowed(request: web.Request) -> bool:
    when = getattr(request.match_info.handler, _MARK, None)
    return when is not None and bool(when(request))


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: web.Request, public_url: str | None) -> set[str]:
    own = {f"{request.scheme}://{request.host}".lower()}
    if public_url:
        own.add(origin_of(public_url))
    return own


def cross_site_reason(request: web.Request, public_url: str | None = None) -> str | None:
    """Why this request comes from another site, or None when it does not."""
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site in ("cross-site", "same-site"):
        return f"Sec-Fetch-Site: {site}"
    origin = request.headers.get("Origin")
    if origin is not None and origin.strip().lower() not in own_origins(request, public_url):
        return f"Origin {origin[:100]!r} is not this API's"
    return None


@web.middleware
async def refuse_cross_site(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS or is_cross_site_allowed(request):
        return await handler(request)
    public_url = request.app[DAEMON].alerts.config.public_url
    reason = cross_site_reason(request, public_url)
    if reason is not None:
        return json_error(403, f"cross-site request refused ({reason}): state-changing "
                               "requests must come from this API's own pages or from a "
                               "client that is not a browser", field="Origin")
    return await handler(request)
