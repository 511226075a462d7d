"""POST /api/monitoring/reload: re-read services.json now (or only validate it, dryRun)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON
from supervisor.api.params import read_body

routes = web.RouteTableDef()


class ReloadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    dry_run: bool = Field(False, alias="dryRun",
                          description="Validate and report the differences; apply nothing.")


@routes.post("/api/monitoring/reload")
async def reload(request: web.Request) -> web.Response:
    body = await read_body(request, ReloadRequest, optional=True)  # empty: "reload"
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, ReloadRequest)
    result = await request.app[DAEMON].reloader.reload("api", dry_run=body.dry_run)
    out = result.to_api()
    if not result.ok:
        return web.json_response({"error": result.error, "status": 422, **out}, status=422)
    return web.json_response(out)


@routes.get("/api/monitoring/reload")
async def last_reload(request: web.Request) -> web.Response:
    """The outcome of the last reload (null before the first one)."""
    last = request.app[DAEMON].reloader.last
    return web.json_response({"last": last.to_api() if last is not None else None})
