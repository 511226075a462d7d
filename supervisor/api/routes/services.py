"""GET /api/monitoring/services and /services/{name}: each service's current state;
POST /services/{name}/pause and /resume: planned maintenance, which is not a failure."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import read_body
from supervisor.core.incidents import error_to_api
from supervisor.core.redaction import redact
from supervisor.recovery.run import recovery_to_api

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

routes = web.RouteTableDef()


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    reason: str = Field("", max_length=500)
    stop: bool = Field(False, description="Also stop the service's process (if the daemon "
                                          "knows how); it is started again on resume.")
    duration_ms: float | None = Field(None, gt=0, alias="durationMs",
                                      description="Resume by itself after this many ms.")


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
                              "recovery": daemon.recovery.record(name).to_api(),
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


def _who(request: web.Request) -> str:
    return request.headers.get("X-Requested-By", "api")[:64]


@routes.post("/api/monitoring/services/{name}/pause")
async def pause_service(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    name = request.match_info["name"]
    if name not in daemon.recovery.plans:
        return json_error(404, f"unknown service {name!r}", known=sorted(daemon.recovery.plans))
    body = await read_body(request, PauseRequest, optional=True)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, PauseRequest)
    paused = await daemon.recovery.pause(name, by=_who(request), reason=body.reason,
                                         stop=body.stop, duration_ms=body.duration_ms)
    return web.json_response({"service": name, "status": "maintenance", "paused": paused})


@routes.post("/api/monitoring/services/{name}/resume")
async def resume_service(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    name = request.match_info["name"]
    if name not in daemon.recovery.plans:
        return json_error(404, f"unknown service {name!r}", known=sorted(daemon.recovery.plans))
    if daemon.recovery.record(name).paused is None:
        return json_error(409, f"service {name!r} is not paused")
    result = await daemon.recovery.resume(name, by=_who(request))
    return web.json_response({"service": name, **result})
