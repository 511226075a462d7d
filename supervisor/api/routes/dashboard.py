"""GET /: the dashboard, static files from supervisor/dashboard/ (no build step, no CDN).

Its pages (a service's charts, an incident, the error groups, one group) are addresses of
their own, so that a link in an alert or a chat opens the right one; each serves the same
page and the script draws what the address names."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
NO_CACHE = {"Cache-Control": "no-cache"}  # an upgraded daemon serves its own page at once

routes = web.RouteTableDef()


@routes.get("/")
@routes.get("/services/{name}")
@routes.get("/incidents/{id}")
@routes.get("/errors")
@routes.get("/errors/{fingerprint}")
async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(DASHBOARD / "index.html", headers=NO_CACHE)


@routes.get("/dashboard/{file:[a-z]+\\.(?:js|css)}")
async def asset(request: web.Request) -> web.FileResponse:
    path = DASHBOARD / request.match_info["file"]
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=NO_CACHE)
