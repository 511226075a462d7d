"""GET /api/monitoring/services and /services/{name}: each service's current state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from supervisor.api.app import DAEMON, json_error
from supervisor.incidents import error_to_api
from supervisor.recovery import recovery_to_api
from supervisor.redaction import redact

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

routes = web.RouteTableDef()


@routes.get("/api/monitoring/services")
async def list_services(request: web.Request) -> web.Response:
    tracker = request.app[DAEMON].tracker
    return web.json_response(redact(
        {"services": {n: s.to_dict() for n, s in tracker.services.items()}}))


@routes.get("/api/monitoring/services/{name}")
async def get_service(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    name = request.match_info["name"]
    st = daemon.tracker.services.get(name)
    if st is None:
        return json_error(404, f"unknown service {name!r}", known=sorted(daemon.tracker.services))
    runs = [r for r in daemon.recovery.runs.values() if r.service == name][-20:]
    return web.json_response(redact({"name": name, **st.to_dict(),
                              "thresholds": {"errors": st.thresholds.errors,
                                             "successes": st.thresholds.successes},
                              "recentRecoveries": [recovery_to_api(r.row()) for r in runs],
                              **await service_history(daemon, name, {r.id for r in runs})}))


async def service_history(daemon: Daemon, name: str, shown: set[str]) -> dict[str, Any]:
    """The per-entity debug view: transitions, last results, stored recoveries, errors."""
    transitions = await daemon.store.service_transitions(name, limit=50)
    stored = [r for r in await daemon.store.list_recoveries(0, service=name, limit=20)
              if r["id"] not in shown]
    errors = await daemon.store.list_errors(service=name, limit=10)
    return {
        "transitions": [{"at": round(t["at"] * 1000), "from": t["previous"], "to": t["state"],
                         "reason": t["reason"], "correlationId": t["correlation_id"]}
                        for t in transitions],
        "lastResults": daemon.monitoring.checks.last_results(name),
        "storedRecoveries": [recovery_to_api(r) for r in stored],
        "recentErrors": [error_to_api(e) for e in errors],
    }
