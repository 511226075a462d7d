"""GET /api/monitoring/health: the SPEC's health body; 503 when critical, for load balancers."""

from __future__ import annotations

from aiohttp import web

from supervisor.api.context import DAEMON
from supervisor.core.platform_health import health_payload

routes = web.RouteTableDef()


@routes.get("/api/monitoring/health")
async def health(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    payload = await health_payload(daemon.tracker, daemon.store,
                                   uptime_window_h=daemon.settings.uptime_window_hours,
                                   started_at=daemon.started_at,
                                   alert_delivery=daemon.alerts.delivery_status(),
                                   monitoring=daemon.monitoring.selfwatch.monitoring_status())
    return web.json_response(payload, status=503 if payload["status"] == "critical" else 200)
