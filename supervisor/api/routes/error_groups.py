"""GET /api/monitoring/error-groups/{fingerprint}: one group for its page: the group, its
latest error with the full context (stack trace, breadcrumbs, tags when the report had them),
its trend, the services and incidents it touched, and its newest errors; for errors the
services reported themselves, also their releases and the other errors of the same trace."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.routes.errors import error_detail, group_to_api
from supervisor.core.incidents import error_to_api
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
    related: list[dict[str, Any]] = []
    if latest is not None and latest.get("source") in ("sdk", "api") and \
            latest.get("correlation_id"):
        related = [error_to_api(r) for r in
                   await store.errors_for_incident(latest["correlation_id"])
                   if r["id"] != latest["id"]][:50]
    return web.json_response({
        **group_to_api(group),
        "latest": await error_detail(store, latest) if latest is not None else None,
        "latestEvent": error_to_api(latest, full=True) if latest is not None else None,
        "releases": [{"release": r["release"], "count": r["count"],
                      "firstSeen": round(r["first_seen"] * 1000),
                      "lastSeen": round(r["last_seen"] * 1000)}
                     for r in await store.group_releases(fp)],
        "trace": {"id": latest.get("correlation_id") if latest else None,
                  "services": sorted({r["service"] for r in related if r["service"]}),
                  "errors": related},
        "trend": {"bucketMs": round(DAY * 1000), "since": round((since - since % DAY) * 1000),
                  "counts": trend.get(fp, [])},
        **members})
