"""The daemon's own views: status, performance, trends, the latest health report and the
newest events (the bus's ring buffer)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import BadParam, parse_duration, parse_int, parse_time
from supervisor.core.redaction import redact
from supervisor.observability.performance import recovery_performance

routes = web.RouteTableDef()


@web.middleware
async def count_requests(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
                         ) -> web.StreamResponse:
    """Request counts for /status (by status class, method, mean duration)."""
    stats = request.app[DAEMON].monitoring.requests
    stats.in_flight += 1
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        stats.in_flight -= 1
        stats.record(request.method, status, (time.perf_counter() - started) * 1000)


@routes.get("/api/monitoring/status")
async def status(request: web.Request) -> web.Response:
    return web.json_response(redact(await request.app[DAEMON].status.collect()))


@routes.get("/api/monitoring/performance")
async def performance(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    try:
        since = parse_time("since", request.query.get("since", "24h")) or 0.0
    except BadParam as exc:
        return exc.response()
    rows = await daemon.store.list_recoveries(since, limit=10_000)
    return web.json_response({"checks": daemon.monitoring.checks.to_dict(),
                              "recoveries": recovery_performance(rows),
                              "transactions": daemon.ingest.transactions.to_dict()})


@routes.get("/api/monitoring/trends")
async def trends(request: web.Request) -> web.Response:
    q = request.query
    try:
        text = q.get("bucket", "1h")
        try:
            bucket = parse_duration(text)
        except ValueError:
            raise BadParam("bucket", f"{text!r} is not a duration like 1h, 6h, 1d") from None
        if bucket < 3600 or bucket % 3600:
            raise BadParam("bucket", "must be a whole number of hours (1h, 6h, 1d)")
        since = parse_time("since", q.get("since", "24h")) or 0.0
        until = parse_time("until", q.get("until")) or time.time()
    except BadParam as exc:
        return exc.response()
    buckets = await request.app[DAEMON].store.trends(since, until, bucket,
                                                     service=q.get("service") or None)
    return web.json_response({
        "bucket": text, "since": round(since * 1000), "until": round(until * 1000),
        "buckets": [{"start": round(b["start"] * 1000), "total": b["total"],
                     "byCategory": b["byCategory"]} for b in buckets]})


@routes.get("/api/monitoring/reports/latest")
async def latest_report(request: web.Request) -> web.StreamResponse:
    mon = request.app[DAEMON].monitoring
    report = await mon.latest()
    if report is None:
        return json_error(404, "no health report yet",
                          hint="one is written every HEALTH_REPORT_FREQUENCY ms")
    if request.query.get("format") == "markdown":
        text = (mon.reports_dir / "latest.md")
        if text.exists():
            return web.Response(text=text.read_text(), content_type="text/markdown")
    return web.json_response(report)


@routes.get("/api/monitoring/events/recent")
async def recent_events(request: web.Request) -> web.Response:
    bus = request.app[DAEMON].bus
    q = request.query
    try:
        limit = parse_int("limit", q.get("limit"), 100, 1, bus.recent.maxlen or 1000)
    except BadParam as exc:
        return exc.response()
    kinds = {t.strip() for t in q.get("type", "").split(",") if t.strip()}
    service = q.get("service") or None
    events = [e for e in bus.recent
              if (not kinds or e.type in kinds) and (service is None or e.service == service)]
    return web.json_response({"events": [redact(e.to_dict()) for e in events[-limit:]][::-1]})
