"""GET /api/monitoring/history: each service's latest check results (the dashboard's strips).

Kept in memory only (a few dozen results per service, fed by the scheduler's check hook); the
stored transitions and errors are the durable record.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

from supervisor.api.context import DAEMON
from supervisor.api.params import BadParam, parse_int
from supervisor.core.check_result import CheckResult
from supervisor.core.scheduler import add_check_hook

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

KEEP = 60
routes = web.RouteTableDef()


def result_entry(result: CheckResult) -> dict[str, Any]:
    return {"at": round(result.at * 1000), "check": result.check, "kind": str(result.kind),
            "ok": result.ok, "latencyMs": round(result.latency_ms, 1)}


class CheckHistory:
    def __init__(self) -> None:
        self.by_service: dict[str, deque[dict[str, Any]]] = {}

    def on_check(self, service: str, result: CheckResult) -> None:
        self.by_service.setdefault(service, deque(maxlen=KEEP)).append(result_entry(result))


HISTORY: web.AppKey[CheckHistory] = web.AppKey("check_history")


def setup(app: web.Application, daemon: Daemon) -> None:
    history = app[HISTORY] = CheckHistory()
    add_check_hook(daemon.scheduler, history.on_check)


@routes.get("/api/monitoring/history")
async def history(request: web.Request) -> web.Response:
    try:
        limit = parse_int("limit", request.query.get("limit"), 30, 1, KEEP)
    except BadParam as exc:
        return exc.response()
    known = request.app[DAEMON].tracker.services
    by_service = request.app[HISTORY].by_service
    return web.json_response({"services": {
        name: list(by_service.get(name, ()))[-limit:] for name in known}})
