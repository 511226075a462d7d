"""GET /api/monitoring/services/{name}/series and /api/monitoring/series: pre-bucketed
history for charts (supervisor/observability/service_series.py), one service or every
service at once."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import BadParam, parse_duration
from supervisor.observability.service_series import (
    METRICS,
    ServiceSeries,
    Window,
    check_window,
    default_bucket,
)

routes = web.RouteTableDef()
MAX_SINCE_S = 31 * 86400.0


def parse_window(q: Any, metric: str, resolution_s: float,
                 default_since: str = "24h") -> Window:
    now = time.time()
    text = q.get("since") or default_since
    try:
        span = parse_duration(text)
    except ValueError:
        raise BadParam("since", f"{text!r} is not a duration like 1h, 24h, 7d, 30d") from None
    if not 0 < span <= MAX_SINCE_S:
        raise BadParam("since", "must be more than 0 and at most 31d")
    bucket = default_bucket(span, resolution_s)
    if q.get("bucket"):
        try:
            bucket = parse_duration(q["bucket"])
        except ValueError:
            raise BadParam("bucket", f"{q['bucket']!r} is not a duration like 1m, 5m, "
                                     "1h, 1d") from None
    w = Window(now - span, now, bucket)
    problem = check_window(metric, w, now, resolution_s)
    if problem:
        raise BadParam("bucket", problem)
    return w


def parse_metric(q: Any) -> str:
    metric = str(q.get("metric", "latency"))
    if metric not in METRICS:
        raise BadParam("metric", f"{metric!r} is not one of {', '.join(METRICS)}")
    return metric


def degraded_threshold(svc: Any) -> float | None:
    """The response time above which this service counts as slow (its own or its checks')."""
    if svc is None:
        return None
    if svc.degraded_threshold:
        return float(svc.degraded_threshold)
    limits = [c.degraded_after for c in svc.checks if getattr(c, "degraded_after", None)]
    return float(min(limits)) if limits else None


def window_to_api(metric: str, w: Window) -> dict[str, Any]:
    return {"metric": metric, "bucketMs": round(w.bucket_s * 1000),
            "since": round(w.since * 1000), "until": round(w.until * 1000)}


@routes.get("/api/monitoring/services/{name}/series")
async def service_series(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    name = request.match_info["name"]
    if name not in daemon.tracker.services:
        return json_error(404, f"unknown service {name!r}")
    try:
        metric = parse_metric(request.query)
        w = parse_window(request.query, metric, daemon.rollup.resolution_s)
    except BadParam as exc:
        return exc.response()
    series = ServiceSeries(daemon.store, daemon.rollup)
    out: dict[str, Any] = {"service": name, **window_to_api(metric, w),
                           "degradedThresholdMs": degraded_threshold(
                               daemon.services.get(name))}
    if metric == "latency":
        out["points"] = (await series.latency([name], w))[name]
    elif metric == "errors":
        out["points"] = await series.errors(name, w)
    else:
        out.update((await series.uptime([name], w))[name])
    return web.json_response(out)


@routes.get("/api/monitoring/series")
async def all_series(request: web.Request) -> web.Response:
    """Every service (or `service=a,b`) at once: latency points or uptime, for overviews such
    as `soulfra-supervisor status` (one query, not one request per service)."""
    daemon = request.app[DAEMON]
    q = request.query
    known = daemon.tracker.services
    names = [s.strip() for s in q.get("service", "").split(",") if s.strip()] or sorted(known)
    unknown = [n for n in names if n not in known]
    try:
        metric = parse_metric(q)
        if metric == "errors":
            raise BadParam("metric", "errors is per service: "
                                     "/api/monitoring/services/{name}/series?metric=errors")
        w = parse_window(q, metric, daemon.rollup.resolution_s, default_since="1h")
    except BadParam as exc:
        return exc.response()
    if unknown:
        return json_error(404, f"unknown service {unknown[0]!r}")
    series = ServiceSeries(daemon.store, daemon.rollup)
    if metric == "latency":
        data: dict[str, Any] = {n: {"points": p}
                                for n, p in (await series.latency(names, w)).items()}
    else:
        data = await series.uptime(names, w)
        if q.get("points") != "true":  # 1,000 services × buckets is megabytes; ask for them
            data = {n: {"uptime": u["uptime"]} for n, u in data.items()}
    return web.json_response({**window_to_api(metric, w), "services": data})
