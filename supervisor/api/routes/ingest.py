"""The Sentry SDK protocol: POST /api/{project_id}/envelope/ and /api/{project_id}/store/
(with CORS for the configured browser origins), and each service's DSN.

These routes authenticate with the service's key (KEY_AUTHENTICATED in app.py), never the
API token, and answer as the SDKs expect: 200 {"id"}, 400 with the reason, 401/403 for a
wrong key, 413 for too large, 429 with Retry-After and X-Sentry-Rate-Limits.
"""

from __future__ import annotations

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.csrf import cross_site_allowed
from supervisor.core.incidents import error_to_api
from supervisor.ingest.limits import IngestError, read_limited
from supervisor.ingest.pipeline import Answer, Ingestor

routes = web.RouteTableDef()

ENVELOPE = r"/api/{project_id:\d{1,10}}/envelope{slash:/?}"
STORE = r"/api/{project_id:\d{1,10}}/store{slash:/?}"
_CORS_ALLOW_HEADERS = ("Content-Type, Content-Encoding, X-Sentry-Auth, Authorization, "
                       "sentry-trace, baggage, traceparent")


def _cors(request: web.Request, ingest: Ingestor) -> tuple[dict[str, str], bool]:
    """(CORS headers for the answer, whether the request's Origin may post here at all)."""
    origin = request.headers.get("Origin")
    if not origin:
        return {}, True
    allowed = ingest.allowed_origin(origin)
    if allowed is None:
        same = origin.split("://", 1)[-1].rstrip("/") == request.host
        return {}, same
    return {"Access-Control-Allow-Origin": allowed, "Vary": "Origin",
            "Access-Control-Expose-Headers": "X-Sentry-Rate-Limits, Retry-After"}, True


def _answer(answer: Answer, cors: dict[str, str]) -> web.Response:
    return web.json_response(answer.body, status=answer.status,
                             headers={**cors, **answer.headers})


async def _ingest(request: web.Request, store_endpoint: bool) -> web.Response:
    ingest = request.app[DAEMON].ingest
    cors, origin_ok = _cors(request, ingest)
    if not origin_ok:
        ingest.count_rejected("origin")
        return web.json_response({"detail": f"origin {request.headers.get('Origin')} may not "
                                            "send errors here (SOULFRA_INGEST_CORS_ORIGINS)"},
                                 status=403)
    try:
        limit = ingest.limits.max_body
        if request.content_length is not None and request.content_length > limit:
            raise IngestError(413, f"body larger than {limit} bytes", "too_large")
        # aiohttp inflates gzip/deflate/br as it reads; the limit is on what it inflated
        body = await read_limited(request.content, ingest.limits.max_decompressed)
    except IngestError as exc:
        return _answer(ingest.refuse(exc), cors)
    project = int(request.match_info["project_id"])
    handle = ingest.store_endpoint if store_endpoint else ingest.envelope
    return _answer(await handle(project, request.headers, request.query, body), cors)


# Browsers post here from the pages of other origins: CORS (_cors above) decides which, not
# the API's same-origin rule (supervisor/api/csrf.py).
@cross_site_allowed
@routes.post(ENVELOPE, name="sdk-envelope")
async def envelope(request: web.Request) -> web.Response:
    return await _ingest(request, store_endpoint=False)


@cross_site_allowed
@routes.post(STORE, name="sdk-store")
async def store(request: web.Request) -> web.Response:
    return await _ingest(request, store_endpoint=True)


@routes.route("OPTIONS", ENVELOPE, name="sdk-envelope-preflight")
@routes.route("OPTIONS", STORE, name="sdk-store-preflight")
async def preflight(request: web.Request) -> web.Response:
    cors, _ = _cors(request, request.app[DAEMON].ingest)
    if not cors:
        return web.Response(status=204)
    return web.Response(status=204, headers={
        **cors, "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": _CORS_ALLOW_HEADERS, "Access-Control-Max-Age": "86400"})


def _unknown(ingest: Ingestor, name: str) -> web.Response | None:
    if name in ingest.keys.project_of:
        return None
    return json_error(404, f"unknown service {name!r}", field="name",
                      known=sorted(ingest.keys.project_of))


@routes.get("/api/monitoring/services/{name}/dsn")
async def get_dsn(request: web.Request) -> web.Response:
    daemon, name = request.app[DAEMON], request.match_info["name"]
    if (missing := _unknown(daemon.ingest, name)) is not None:
        return missing
    return web.json_response(daemon.ingest.dsn(name, daemon.api_url))


@routes.post("/api/monitoring/services/{name}/dsn/rotate")
async def rotate_dsn(request: web.Request) -> web.Response:
    daemon, name = request.app[DAEMON], request.match_info["name"]
    if (missing := _unknown(daemon.ingest, name)) is not None:
        return missing
    try:
        await daemon.ingest.rotate(name)
    except ValueError as exc:
        return json_error(409, str(exc), field="errorReporting.keys")
    return web.json_response(daemon.ingest.dsn(name, daemon.api_url))


@routes.get("/api/monitoring/traces/{trace_id}")
async def trace(request: web.Request) -> web.Response:
    """Every error and transaction of one trace, across services, oldest first: the chain of
    operations that SDKs tie together with `sentry-trace`/`baggage`/`traceparent`."""
    daemon, trace_id = request.app[DAEMON], request.match_info["trace_id"].lower()
    errors = [error_to_api(r) for r in await daemon.store.errors_for_incident(trace_id)]
    transactions = sorted(daemon.ingest.transactions.of_trace(trace_id),
                          key=lambda t: t["timestamp"])
    if not errors and not transactions:
        return json_error(404, f"nothing known of trace {trace_id!r}", field="trace_id")
    services = sorted({e["service"] for e in errors if e["service"]} |
                      {t["service"] for t in transactions})
    return web.json_response({"traceId": trace_id, "services": services, "errors": errors,
                              "transactions": transactions})
