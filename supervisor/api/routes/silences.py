"""Silences: POST/GET /api/monitoring/silences and DELETE /api/monitoring/silences/{id}."""

from __future__ import annotations

import time

from aiohttp import web

from supervisor.alerts.silences import SilenceSpec, silence_to_api, to_timestamp
from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import read_body

routes = web.RouteTableDef()


@routes.post("/api/monitoring/silences")
async def create_silence(request: web.Request) -> web.Response:
    body = await read_body(request, SilenceSpec)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, SilenceSpec)
    if to_timestamp(body.end, 0) <= time.time():
        return json_error(422, "invalid request body: end: is in the past", field="end",
                          problems=[{"field": "end", "message": "is in the past"}])
    silence = await request.app[DAEMON].alerts.silences.create(body)
    return web.json_response(silence_to_api(silence), status=201,
                             headers={"Location": f"/api/monitoring/silences/{silence['id']}"})


@routes.get("/api/monitoring/silences")
async def list_silences(request: web.Request) -> web.Response:
    """Active and pending silences; `?all=1` adds the expired ones of the last week."""
    everything = request.query.get("all") in ("1", "true", "yes")
    now = time.time()
    out = [silence_to_api(s, now) for s in request.app[DAEMON].alerts.silences.all()]
    if not everything:
        out = [s for s in out if s["state"] in ("active", "pending")]
    return web.json_response({"silences": out})


@routes.delete("/api/monitoring/silences/{id}")
async def delete_silence(request: web.Request) -> web.Response:
    silences = request.app[DAEMON].alerts.silences
    sid = request.match_info["id"]
    if any(s["id"] == sid for s in silences.from_config):
        return json_error(409, f"silence {sid!r} comes from services.json; remove it there")
    if not await silences.delete(sid):
        return json_error(404, f"no active silence {sid!r}")
    return web.json_response({"id": sid, "state": "deleted"})
