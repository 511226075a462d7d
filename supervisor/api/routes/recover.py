"""POST /api/monitoring/recover (202 + recovery id) and GET /api/monitoring/recoveries/{id}."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import read_body
from supervisor.recovery.plan import ACTIONS
from supervisor.recovery.run import RecoveryRefused, recovery_to_api

routes = web.RouteTableDef()


class RecoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # Checked in the handler (its message lists the actions); the enum is for the document.
    action: str = Field(json_schema_extra={"enum": list(sorted(ACTIONS))})
    target: str = Field(min_length=1)
    force: bool = False
    dry_run: bool = Field(False, alias="dryRun")


@routes.post("/api/monitoring/recover")
async def recover(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    body = await read_body(request, RecoverRequest)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, RecoverRequest)
    if body.action not in ACTIONS:
        allowed = sorted(ACTIONS)
        return json_error(422, f"unknown action {body.action!r}; allowed: {', '.join(allowed)}",
                          field="action", allowed=allowed,
                          problems=[{"field": "action", "message": f"must be one of {allowed}"}])
    targets = [body.target]
    if body.target == "all" and body.action == "retry_failed":
        targets = [n for n, s in daemon.tracker.services.items() if s.state.is_down]
    elif body.target not in daemon.recovery.plans:
        return json_error(404, f"unknown service {body.target!r}", field="target",
                          known=sorted(daemon.recovery.plans))
    who = request.headers.get("X-Requested-By", "api")[:64]
    started: list[dict[str, Any]] = []
    for target in targets:
        try:
            run, joined = await daemon.recovery.request(target, body.action, requested_by=who,
                                                        force=body.force, dry_run=body.dry_run)
        except RecoveryRefused as exc:
            return json_error(409, str(exc), field="action")
        started.append({**recovery_to_api(run.row()), "alreadyRunning": joined,
                        "location": f"/api/monitoring/recoveries/{run.id}"})
    if body.target == "all":
        return web.json_response({"recoveries": started}, status=202)
    status = 200 if body.dry_run else 202
    return web.json_response(started[0], status=status)


@routes.get("/api/monitoring/recoveries/{id}")
async def get_recovery(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    rid = request.match_info["id"]
    run = daemon.recovery.runs.get(rid)
    row = run.row() if run is not None else await daemon.store.get_recovery(rid)
    if row is None:
        return json_error(404, f"no recovery {rid!r}")
    return web.json_response(recovery_to_api(row))
