"""GET /api/monitoring/errors (SPEC shape) and /errors/{id} (full context)."""

from __future__ import annotations

from aiohttp import web

from supervisor.api.app import DAEMON, json_error
from supervisor.api.params import BadParam, parse_int, parse_time
from supervisor.incidents import error_to_api

routes = web.RouteTableDef()


@routes.get("/api/monitoring/errors")
async def list_errors(request: web.Request) -> web.Response:
    store = request.app[DAEMON].store
    q = request.query
    try:
        since = parse_time("since", q.get("since", "24h"))
        limit = parse_int("limit", q.get("limit"), 100, 1, 1000)
    except BadParam as exc:
        return exc.response()
    rows = await store.list_errors(since=since, service=q.get("service") or None, limit=limit)
    summary = await store.error_summary(since)
    return web.json_response({"errors": [error_to_api(r) for r in rows], "summary": summary})


@routes.get("/api/monitoring/errors/{id}")
async def get_error(request: web.Request) -> web.Response:
    row = await request.app[DAEMON].store.get_error(request.match_info["id"])
    if row is None:
        return json_error(404, f"no error {request.match_info['id']!r}")
    return web.json_response(error_to_api(row, full=True))
