"""GET /api/monitoring/cluster: every node and shared service, as this node sees them
(docs/cluster.md). A standalone daemon answers too: itself, `standalone: true`."""

from __future__ import annotations

from aiohttp import web

from supervisor.api.context import DAEMON
from supervisor.cluster.wiring import standalone_view

routes = web.RouteTableDef()


@routes.get("/api/monitoring/cluster")
async def cluster(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    node = daemon.multihost.cluster
    if node is None:
        return web.json_response(standalone_view(daemon))
    return web.json_response(await node.view())
