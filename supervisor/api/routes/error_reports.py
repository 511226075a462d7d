"""POST /api/monitoring/errors: a service reports an error without an SDK — one JSON report
in the shape of SPEC §6's report context, or a list of them. The reports go the same way as
SDK events (scrub, classify, group, store, alerts, the `errors` check), with source `api`.

A batch is all or nothing: one invalid report answers 422 naming `[index].field`, and none is
stored. With SOULFRA_API_TOKEN set, the token or the reporting service's own key (as the SDKs
send it: X-Sentry-Auth or ?sentry_key=) is needed; a key reports only for its service.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from supervisor.api.context import DAEMON, json_error
from supervisor.api.middlewares import has_api_token
from supervisor.api.params import read_json
from supervisor.core.taxonomy import Category, Level, Severity
from supervisor.ingest.auth import sent_key
from supervisor.ingest.limits import IngestError

routes = web.RouteTableDef()
MAX_REPORTS = 1000


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ReportSource(_Model):
    service: str = Field(min_length=1, max_length=64)
    module: str | None = Field(None, max_length=300)
    function: str | None = Field(None, max_length=300)
    line: int | None = Field(None, ge=0)
    check: str | None = Field(None, max_length=100)
    stack: str | list[str] | None = Field(None, description="The stack trace as text or lines.")


class ErrorReport(_Model):
    message: str = Field(min_length=1, max_length=10_000)
    source: ReportSource
    category: Category | None = None
    severity: Severity | None = None
    level: Level | None = None
    type: str | None = Field(None, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")
    exception: str | None = Field(None, max_length=200,
                                  description="The exception's class name, e.g. TimeoutError.")
    handled: bool = True
    correlation_id: str | None = Field(None, alias="correlationId", max_length=128)
    fingerprint: list[str] | None = Field(None, max_length=20)
    release: str | None = Field(None, max_length=200)
    timestamp: float | str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    database: dict[str, Any] | None = None
    contract: dict[str, Any] | None = None
    sync: dict[str, Any] | None = None
    environment: dict[str, Any] | str | None = None
    user: dict[str, Any] | None = None


_BATCH = TypeAdapter(ErrorReport | list[ErrorReport])


def to_event(r: ErrorReport) -> dict[str, Any]:
    """The report in Sentry's event shape, so that one path classifies and groups both."""
    frame = {k: v for k, v in {"module": r.source.module, "function": r.source.function,
                               "lineno": r.source.line}.items() if v is not None}
    exc: dict[str, Any] = {"type": r.exception or (r.type or "Error"), "value": r.message,
                           "mechanism": {"type": "report", "handled": r.handled}}
    if frame:
        exc["stacktrace"] = {"frames": [{**frame, "in_app": True}]}
    env = r.environment if isinstance(r.environment, dict) else {}
    extra = {k: v for k, v in {"request": r.request, "response": r.response,
                               "database": r.database, "contract": r.contract, "sync": r.sync,
                               "stack": r.source.stack, "check": r.source.check,
                               "environment": r.environment}.items() if v is not None}
    event: dict[str, Any] = {
        "exception": {"values": [exc]}, "level": "error", "extra": extra,
        "release": r.release or env.get("version"), "user": r.user,
        "environment": r.environment if isinstance(r.environment, str) else env.get("name"),
    }
    if r.fingerprint:
        event["fingerprint"] = r.fingerprint
    if r.correlation_id:
        event["contexts"] = {"trace": {"trace_id": r.correlation_id}}
    if isinstance(r.request, dict):
        event["request"] = r.request
    return {k: v for k, v in event.items() if v is not None}


def _problems(exc: ValidationError, batch: bool) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        loc = list(e["loc"])
        if loc and loc[0] in ("ErrorReport", "list[ErrorReport]"):
            if (loc[0] == "list[ErrorReport]") != batch:
                continue  # the other branch of the union: not what the client meant
            loc = loc[1:]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        out.append({"field": field, "message": "unknown field" if e["type"] == "extra_forbidden"
                    else str(e["msg"])})
    return out


def _reporter(request: web.Request) -> tuple[str | None, web.Response | None]:
    """(the service whose key came, None when the API token came or none is needed)."""
    if has_api_token(request):
        return None, None
    key = sent_key(request.headers, request.query)
    if key is None:
        return None, json_error(401, "missing or wrong API token or service key",
                                hint="send Authorization: Bearer <SOULFRA_API_TOKEN>, or the "
                                     "service's key as X-Sentry-Auth or ?sentry_key=")
    try:
        return request.app[DAEMON].ingest.keys.resolve(key, None), None
    except IngestError as exc:
        return None, json_error(exc.status, exc.reason)


@routes.post("/api/monitoring/errors", name="error-reports")
async def report_errors(request: web.Request) -> web.Response:
    daemon = request.app[DAEMON]
    reporter, refused = _reporter(request)
    if refused is not None:
        return refused
    data = await read_json(request)  # application/json, strict UTF-8 and JSON
    if isinstance(data, web.Response):
        return data
    if isinstance(data, list) and len(data) > MAX_REPORTS:
        return json_error(413, f"at most {MAX_REPORTS} reports at once", field="")
    try:
        parsed = _BATCH.validate_python(data)
    except ValidationError as exc:
        problems = _problems(exc, isinstance(data, list)) or [{"field": "", "message":
                                                               "must be a report or a list"}]
        return json_error(422, "invalid report: " + ", ".join(
            f"{p['field']}: {p['message']}" for p in problems[:10]), problems=problems)
    reports = parsed if isinstance(parsed, list) else [parsed]
    known = daemon.ingest.keys.project_of
    for i, r in enumerate(reports):
        field = f"[{i}].source.service" if isinstance(parsed, list) else "source.service"
        if r.source.service not in known:
            return json_error(422, f"unknown service {r.source.service!r}", field=field,
                              problems=[{"field": field, "message": "unknown service"}],
                              known=sorted(known))
        if reporter is not None and r.source.service != reporter:
            return json_error(403, f"this key reports for {reporter!r}, not "
                                   f"{r.source.service!r}", field=field)
    out = []
    for r in reports:
        override = {k: str(v) for k, v in {"category": r.category, "severity": r.severity,
                                           "level": r.level, "type": r.type}.items() if v}
        n = daemon.ingest.report(r.source.service, to_event(r), "api", override)
        out.append({"id": n.row["id"], "fingerprint": n.fingerprint,
                    "category": n.row["category"], "severity": n.row["severity"]})
    body: dict[str, Any] = {"accepted": len(out), "errors": out}
    return web.json_response(body if isinstance(parsed, list) else out[0] | body, status=201)
