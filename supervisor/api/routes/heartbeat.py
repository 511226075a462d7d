"""POST /api/monitoring/heartbeat/{service}[/start|/finish|/fail]: services push signs of life.

The body is optional: a JSON object of progress counters (`{"processed": 120, "queued": 4}`)
and an optional `message`. A bad body gets 400/422 naming the field and changes nothing.
"""

from __future__ import annotations

import time

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import read_json
from supervisor.push.payload import BadPayload, parse_counters

routes = web.RouteTableDef()


@routes.post(r"/api/monitoring/heartbeat/{service}")
@routes.post(r"/api/monitoring/heartbeat/{service}/{event:start|finish|fail}")
async def heartbeat(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    service = request.match_info["service"]
    event = request.match_info.get("event", "beat")
    if service not in daemon.tracker.services:
        return json_error(404, f"unknown service {service!r}", field="service",
                          known=sorted(daemon.tracker.services))
    data = await read_json(request, optional=True)
    if isinstance(data, web.Response):
        return data
    try:
        counters, message = parse_counters(data) if data is not None else ({}, None)
    except BadPayload as exc:
        return json_error(422, f"invalid heartbeat body: {exc}", field=exc.field,
                          problems=[{"field": exc.field, "message": exc.message}])
    board = daemon.check_env.heartbeats
    if event == "start":
        signs = board.start_job(service, counters)
    elif event in ("finish", "fail"):
        signs = board.finish_job(service, ok=event == "finish", message=message,
                                 counters=counters)
    else:
        signs = board.beat(service, counters, message)
    deadline = board.deadline(service)
    return web.json_response({
        "service": service, "event": event, "beats": signs.beats,
        "counters": signs.counters,
        "expected": service in board.expected,
        "nextDeadlineMs": round((deadline - time.monotonic()) * 1000)
        if deadline is not None else None,
    })
