"""GET /api/monitoring/openapi.json: an OpenAPI 3.1 document of every route, built from the
table in openapi_paths.py with the words of openapi_ops.py."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from supervisor import __version__
from supervisor.api.context import DAEMON
from supervisor.api.openapi_ops import COMPONENTS, ERROR_SCHEMA, error_answer
from supervisor.api.openapi_paths import PATHS

routes = web.RouteTableDef()

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def normalise(path: str) -> str:
    """aiohttp's `{file:regex}` → OpenAPI's `{file}`."""
    return _PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


# Routes served only when a setting switches them on: documented only then.
OPTIONAL = {"/api/monitoring/debug/faults": "fault_injection"}


def document(enabled: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The document for an app with these OPTIONAL settings on (names of Settings fields)."""
    paths: dict[str, Any] = {}
    for path, ops in PATHS.items():
        if path in OPTIONAL and OPTIONAL[path] not in enabled:
            continue
        names = _PARAM.findall(path)
        entry: dict[str, Any] = {}
        for method, operation in ops.items():
            operation = dict(operation)
            answers = dict(operation["responses"])
            if names:
                operation["parameters"] = [
                    {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                    for n in names] + operation.get("parameters", [])
                answers.setdefault("404", error_answer("no such " + names[0]))
            if method != "get" and operation["tags"] != ["sdk"]:  # SDKs use their DSN key
                operation["security"] = [{"bearer": []}, {}]
                answers.setdefault("401", error_answer("missing or wrong API token"))
                answers.setdefault("403", error_answer(
                    "cross-site request refused (Origin or Sec-Fetch-Site of another site)"))
            if operation.get("parameters"):
                answers.setdefault("422", error_answer("a parameter is invalid"))
            operation["responses"] = answers
            entry[method] = operation
        paths[path] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "soulfra-supervisor", "version": __version__,
                 "description": "Self-healing supervisor daemon. Times in bodies are "
                                "milliseconds. State-changing requests need "
                                "`Authorization: Bearer <token>` when a token is configured."},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA, **COMPONENTS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD left out (aiohttp adds it to GET)."""
    found = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS") or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or route.resource.canonical
        found.add((route.method.lower(), normalise(path)))
    return found


def documented(enabled: frozenset[str] = frozenset(OPTIONAL.values())
               ) -> set[tuple[str, str]]:
    return {(m, p) for p, ops in document(enabled)["paths"].items() for m in ops}


def enabled_options(settings: Any) -> frozenset[str]:
    return frozenset(name for name in OPTIONAL.values() if getattr(settings, name, False))


@routes.get("/api/monitoring/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document(enabled_options(request.app[DAEMON].settings)))
