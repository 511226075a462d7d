"""GET /api/monitoring/health: the SPEC's health body; 503 when critical, for load balancers."""

from __future__ import annotations

from aiohttp import web

from supervisor.api.app import DAEMON
from supervisor.core.platform_health import health_payload

routes = web.RouteTableDef()


@routes.get("/api/monitoring/health")
async def health(request: web.Request) -> web.Response:
    payload = await health_payload(request.app[DAEMON])
    return web.json_response(payload, status=503 if payload["status"] == "critical" else 200)
