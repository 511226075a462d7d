"""GET /metrics: Prometheus text format, from the daemon's own registry (supervisor/metrics.py)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from supervisor.api.app import DAEMON

routes = web.RouteTableDef()


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.StreamResponse:
    handler = make_aiohttp_handler(request.app[DAEMON].metrics.registry)
    return await handler(request)
