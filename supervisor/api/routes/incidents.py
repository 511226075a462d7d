"""Incidents (one per correlation id): the list, one incident on its time axis
(supervisor/store/incident_timeline.py), and the people's updates shown on the status page."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import BadParam, parse_int, parse_time, read_body
from supervisor.api.routes.status_page import RENDERED
from supervisor.core.redaction import redact_text
from supervisor.store import incident_timeline

routes = web.RouteTableDef()


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["investigating", "identified", "monitoring", "resolved", "update"] = Field(
        "update", description="Where the people handling it are (shown on the status page)")
    message: str = Field(min_length=1, max_length=2000,
                         description="What the people reading /status should know")


@routes.get("/api/monitoring/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    q = request.query
    try:
        since = parse_time("since", q.get("since", "7d")) or 0.0
        limit = parse_int("limit", q.get("limit"), 100, 1, 1000)
    except BadParam as exc:
        return exc.response()
    services = [s.strip() for s in q.get("service", "").split(",") if s.strip()] or None
    store = request.app[DAEMON].store
    await store.flush()
    rows = await store.run(lambda conn: incident_timeline.recent(conn, since, services, limit))
    return web.json_response({"incidents": rows})


@routes.get("/api/monitoring/incidents/{id}")
async def get_incident(request: web.Request) -> web.Response:
    cid = request.match_info["id"]
    store = request.app[DAEMON].store
    await store.flush()  # what happened a moment ago is on the axis too
    incident = await store.run(lambda conn: incident_timeline.load(conn, cid))
    if incident is None:
        return json_error(404, f"no incident {cid!r}")
    return web.json_response(incident)


@routes.post("/api/monitoring/incidents/{id}/updates")
async def post_update(request: web.Request) -> web.Response:
    body = await read_body(request, IncidentUpdate)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, IncidentUpdate)
    daemon = request.app[DAEMON]
    cid = request.match_info["id"]
    await daemon.store.flush()
    if not await daemon.store.run(lambda conn: incident_timeline.known(conn, cid)):
        return json_error(404, f"no incident {cid!r}")
    author = request.headers.get("X-Requested-By", "api")[:64]
    message = redact_text(body.message)
    update = await daemon.store.transaction(lambda conn: incident_timeline.add_update(
        conn, cid, body.status, message, author))
    request.app[RENDERED].invalidate()  # the status page shows it on the next request
    daemon.bus.publish("incident_updated", None, cid, **update)
    return web.json_response(update, status=201)
