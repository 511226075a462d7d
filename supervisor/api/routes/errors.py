"""Errors: the SPEC's list (with filters and cursor pagination), one error with its full
context, resolution through PATCH, and the fingerprint groups."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import BadParam, parse_int, parse_time, read_body
from supervisor.core.incidents import error_to_api
from supervisor.core.redaction import redact_text
from supervisor.core.taxonomy import Category, Level, Severity
from supervisor.store import error_group_queries
from supervisor.store.database import Store
from supervisor.store.errors import STATUSES
from supervisor.store.shared.shared import SharedStoreDown

routes = web.RouteTableDef()
SOURCES = ("check", "push", "sdk", "api", "daemon", "config")
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def encode_cursor(row: dict[str, Any]) -> str:
    raw = json.dumps([row["created_at"], row["id"]]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        at, error_id = json.loads(raw)
        return float(at), str(error_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise BadParam("cursor", "not a cursor this API gave out (use nextCursor as it is)") \
            from exc


def parse_choice(field: str, text: str | None, allowed: tuple[str, ...]) -> list[str] | None:
    """A comma-separated list of allowed values (case-insensitive)."""
    if not text:
        return None
    lookup = {a.lower(): a for a in allowed}
    values = []
    for part in text.split(","):
        value = lookup.get(part.strip().lower())
        if value is None:
            raise BadParam(field, f"{part.strip()!r} is not one of {', '.join(allowed)}")
        values.append(value)
    return values


def error_filters(q: Any) -> dict[str, Any]:
    """The filters shared by the list and its summary; BadParam names the field."""
    since = parse_time("since", q.get("since", "24h"))
    until = parse_time("until", q.get("until"))
    if since is not None and until is not None and until <= since:
        raise BadParam("until", "must be later than since")
    services = [s.strip() for s in q.get("service", "").split(",") if s.strip()] or None
    return {
        "since": since, "until": until, "service": services,
        "severity": parse_choice("severity", q.get("severity"), tuple(Severity)),
        "category": parse_choice("category", q.get("category"), tuple(Category)),
        "level": parse_choice("level", q.get("level"), tuple(Level)),
        "status": parse_choice("status", q.get("status"), STATUSES),
        "type": [t.strip() for t in q.get("type", "").split(",") if t.strip()] or None,
        "fingerprint": q.get("fingerprint") or None,
        "correlation_id": q.get("correlationId") or None,
        "source": parse_choice("source", q.get("source"), SOURCES),
    }


@routes.get("/api/monitoring/errors")
async def list_errors(request: web.Request) -> web.Response:
    q = request.query
    try:
        filters = error_filters(q)
        nodes = parse_nodes(q.get("node"))
        limit = parse_int("limit", q.get("limit"), 100, 1, 1000)
        after = decode_cursor(q["cursor"]) if q.get("cursor") else None
    except BadParam as exc:
        return exc.response()
    return web.json_response(await errors_page(request.app[DAEMON], filters, nodes, limit,
                                               after))


def parse_nodes(text: str | None) -> list[str] | None:
    """`node=a,b`: node names as SOULFRA_NODE_NAME spells them."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if not NODE_NAME.fullmatch(name):
            raise BadParam("node", f"{name[:100]!r} is not a node name (letters, digits, "
                                   "'.', '_' and '-')")
    return names or None


async def errors_page(daemon: Any, filters: dict[str, Any], nodes: list[str] | None,
                      limit: int, after: tuple[float, str] | None) -> dict[str, Any]:
    """The cluster's errors from the shared store when there is one (`scope: cluster`), else
    or while it cannot be reached this node's (`scope: local`, `degraded` says why)."""
    here = daemon.settings.node_name
    degraded = None
    shared = daemon.multihost.shared_store
    if shared is not None:
        try:
            rows = await shared.list_errors(limit=limit + 1, after=after, node=nodes, **filters)
            summary = await shared.error_summary(node=nodes, **filters)
            return _page(rows, summary, limit, here, "cluster", None)
        except SharedStoreDown as exc:
            degraded = f"shared store unreachable, showing this node's errors only: {exc}"
    if nodes and here not in nodes:
        rows, summary = [], {"total": 0, "recovered": 0, "failed": 0, "pending": 0}
    else:
        rows = await daemon.store.list_errors(limit=limit + 1, after=after, **filters)
        summary = await daemon.store.error_summary(**filters)
    return _page(rows, summary, limit, here, "local", degraded)


def _page(rows: list[dict[str, Any]], summary: dict[str, int], limit: int, here: str,
          scope: str, degraded: str | None) -> dict[str, Any]:
    more = len(rows) > limit
    rows = rows[:limit]
    return {"errors": [{**error_to_api(r), "node": r.get("node") or here} for r in rows],
            "summary": summary, "nextCursor": encode_cursor(rows[-1]) if more and rows else None,
            "scope": scope, "node": here, "degraded": degraded}


@routes.get("/api/monitoring/errors/{id}")
async def get_error(request: web.Request) -> web.Response:
    """One error: this node's, or (with a shared store) any node's; `node=` picks one."""
    daemon = request.app[DAEMON]
    error_id, here = request.match_info["id"], daemon.settings.node_name
    try:
        nodes = parse_nodes(request.query.get("node"))
        node = nodes[0] if nodes else None
    except BadParam as exc:
        return exc.response()
    row = await daemon.store.get_error(error_id) if node in (None, here) else None
    if row is not None:
        return web.json_response({**await error_detail(daemon.store, row), "node": here})
    shared = daemon.multihost.shared_store
    if shared is not None:
        try:
            row = await shared.get_error(error_id, node)
        except SharedStoreDown as exc:
            return json_error(503, f"no error {error_id!r} on this node, and the shared "
                                   f"store is unreachable: {exc}")
    if row is None:
        return json_error(404, f"no error {error_id!r}")
    # another node's error: its group lives on that node
    return web.json_response({**error_to_api(row, full=True), "group": None,
                              "node": row.get("node") or here})


async def error_detail(store: Store, row: dict[str, Any]) -> dict[str, Any]:
    """One error with its full context and the group it belongs to."""
    out = error_to_api(row, full=True)
    group = await store.get_group(row["fingerprint"]) if row.get("fingerprint") else None
    out["group"] = group_to_api(group) if group is not None else None
    return out


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "resolved", "ignored", "workaround"]
    note: str | None = Field(None, max_length=2000)


@routes.patch("/api/monitoring/errors/{id}")
async def patch_error(request: web.Request) -> web.Response:
    body = await read_body(request, StatusChange)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, StatusChange)
    who = request.headers.get("X-Requested-By", "api")[:64]
    note = redact_text(body.note) if body.note else None
    store = request.app[DAEMON].store
    row = await store.set_error_status(request.match_info["id"], body.status, note, who)
    if row is None:
        return json_error(404, f"no error {request.match_info['id']!r}")
    return web.json_response(await error_detail(store, row))


def group_to_api(g: dict[str, Any]) -> dict[str, Any]:
    return {"fingerprint": g["fingerprint"], "service": g["service"], "category": g["category"],
            "type": g["type"], "level": g["level"], "severity": g["severity"],
            "message": g["message"], "count": g["count"],
            "firstSeen": round(g["first_seen"] * 1000), "lastSeen": round(g["last_seen"] * 1000),
            "lastErrorId": g["last_error_id"], "status": g["status"], "note": g["status_note"],
            "regressed": bool(g["regressed"]), "regressions": g["regressions"],
            "regressedAt": round(g["regressed_at"] * 1000) if g["regressed_at"] else None}


@routes.get("/api/monitoring/error-groups")
async def list_groups(request: web.Request) -> web.Response:
    q = request.query
    try:
        status = parse_choice("status", q.get("status"), STATUSES)
        category = parse_choice("category", q.get("category"), tuple(Category))
        since = parse_time("since", q.get("since"))
        limit = parse_int("limit", q.get("limit"), 100, 1, 1000)
        sort = q.get("sort", "last_seen")
        if sort not in ("last_seen", "count", "first_seen"):
            raise BadParam("sort", "must be last_seen, count or first_seen")
        regressed = {"true": True, "false": False, None: None}.get(q.get("regressed"), "bad")
        if regressed == "bad":
            raise BadParam("regressed", "must be true or false")
    except BadParam as exc:
        return exc.response()
    store = request.app[DAEMON].store
    groups = await store.error_groups(
        status=status, category=category, service=q.get("service") or None,
        regressed=regressed if isinstance(regressed, bool) else None, since=since,
        limit=limit, sort=sort)
    out = [group_to_api(g) for g in groups]
    if q.get("trend") == "24h":  # hourly counts of the last day, for the list's sparklines
        fps = [g["fingerprint"] for g in out]
        day_ago = time.time() - 86400
        trend = await store.run(lambda conn: error_group_queries.trends(conn, fps, day_ago))
        for g in out:
            g["trend"] = trend.get(g["fingerprint"], [])
    return web.json_response({"groups": out})


@routes.patch("/api/monitoring/error-groups/{fingerprint}")
async def patch_group(request: web.Request) -> web.Response:
    body = await read_body(request, StatusChange)
    if isinstance(body, web.Response):
        return body
    assert isinstance(body, StatusChange)
    note = redact_text(body.note) if body.note else None
    g = await request.app[DAEMON].store.set_group_status(request.match_info["fingerprint"],
                                                         body.status, note)
    if g is None:
        return json_error(404, f"no error group {request.match_info['fingerprint']!r}")
    return web.json_response(group_to_api(g))
