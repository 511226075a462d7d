"""GET /api/monitoring/error-groups/{fingerprint}: one group for its page: the group, its
latest error with the full context (stack trace, breadcrumbs, tags when the report had them),
its trend, the services and incidents it touched, and its newest errors."""

from __future__ import annotations

import time

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.routes.errors import error_detail, group_to_api
from supervisor.store import error_group_queries

routes = web.RouteTableDef()
DAY = 86400.0


@routes.get("/api/monitoring/error-groups/{fingerprint}")
async def get_group(request: web.Request) -> web.Response:
    fp = request.match_info["fingerprint"]
    store = request.app[DAEMON].store
    await store.flush()
    group = await store.get_group(fp)
    if group is None:
        return json_error(404, f"no error group {fp!r}")
    latest = await store.get_error(group["last_error_id"]) if group["last_error_id"] else None
    since = time.time() - 7 * DAY
    trend = await store.run(lambda conn: error_group_queries.trends(conn, [fp], since, DAY))
    members = await store.run(lambda conn: error_group_queries.members(conn, fp))
    return web.json_response({
        **group_to_api(group),
        "latest": await error_detail(store, latest) if latest is not None else None,
        "trend": {"bucketMs": round(DAY * 1000), "since": round((since - since % DAY) * 1000),
                  "counts": trend.get(fp, [])},
        **members})
