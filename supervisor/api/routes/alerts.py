"""GET /api/monitoring/alerts: every alert made (sent, queued, silenced, suppressed, failed),
with its deliveries, and the state of each channel and of the outbox."""

from __future__ import annotations

from aiohttp import web

from supervisor.alerts.outbox import alert_to_api
from supervisor.api.context import DAEMON
from supervisor.api.params import BadParam, parse_int, parse_time

routes = web.RouteTableDef()


@routes.get("/api/monitoring/alerts")
async def list_alerts(request: web.Request) -> web.Response:
    alerts = request.app[DAEMON].alerts
    q = request.query
    try:
        since = parse_time("since", q.get("since", "24h")) or 0.0
        limit = parse_int("limit", q.get("limit"), 100, 1, 1000)
    except BadParam as exc:
        return exc.response()
    rows = await alerts.outbox.list_alerts(since, limit, q.get("service") or None)
    out = [alert_to_api(r) for r in rows]
    for a in out:  # whether someone is on the incident (the dashboard shows it)
        ack = alerts.acks.get(a["correlationId"] or "")
        a["acknowledged"] = None if ack is None else {
            "by": ack["by"], "via": ack["via"], "at": round(ack["at"] * 1000)}
    return web.json_response({"alerts": out,
                              **(await alerts.summary())})
