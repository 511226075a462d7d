"""GET /api/monitoring/services and /services/{name}: each service's current state."""

from __future__ import annotations

from aiohttp import web

from supervisor.api.app import DAEMON, json_error
from supervisor.recovery import recovery_to_api

routes = web.RouteTableDef()


@routes.get("/api/monitoring/services")
async def list_services(request: web.Request) -> web.Response:
    tracker = request.app[DAEMON].tracker
    return web.json_response({"services": {n: s.to_dict() for n, s in tracker.services.items()}})


@routes.get("/api/monitoring/services/{name}")
async def get_service(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    name = request.match_info["name"]
    st = daemon.tracker.services.get(name)
    if st is None:
        return json_error(404, f"unknown service {name!r}", known=sorted(daemon.tracker.services))
    runs = [r for r in daemon.recovery.runs.values() if r.service == name][-20:]
    return web.json_response({"name": name, **st.to_dict(),
                              "thresholds": {"errors": st.thresholds.errors,
                                             "successes": st.thresholds.successes},
                              "recentRecoveries": [recovery_to_api(r.row()) for r in runs]})
