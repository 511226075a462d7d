#!/usr/bin/env python3
"""An HTTP/1.1 server that keeps connections open, for the connection-reuse tests.

    python tests/support/keepalive_server.py --port P [--keepalive-timeout S]

GET /health     200 {"status": "ok"} (or 500 after POST /fail, until POST /heal)
GET /h/NAME     the same, counted per NAME (one path per service)
GET /__conns    {"connections": N}: connections accepted so far (the health checks' ones)
GET /__hits     {"NAME": requests, ...} for the /h/NAME paths
A test kills it by pid to play a crash; --keepalive-timeout plays a server that closes idle
connections sooner than the checks come.
"""

from __future__ import annotations

import argparse

from aiohttp import web


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--keepalive-timeout", type=float, default=75.0)
    args = p.parse_args()
    peers: set[tuple[str, int]] = set()
    hits: dict[str, int] = {}
    failing = {"on": False}

    async def health(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            peers.add(peer)
        name = request.match_info.get("name")
        if name:
            hits[name] = hits.get(name, 0) + 1
        if failing["on"]:
            return web.json_response({"status": "broken"}, status=500)
        return web.json_response({"status": "ok"})

    async def conns(_: web.Request) -> web.Response:
        return web.json_response({"connections": len(peers)})

    async def hit_counts(_: web.Request) -> web.Response:
        return web.json_response(hits)

    async def fail(_: web.Request) -> web.Response:
        failing["on"] = True
        return web.json_response({})

    async def heal(_: web.Request) -> web.Response:
        failing["on"] = False
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/h/{name}", health)
    app.router.add_get("/__conns", conns)
    app.router.add_get("/__hits", hit_counts)
    app.router.add_post("/fail", fail)
    app.router.add_post("/heal", heal)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None,
                keepalive_timeout=args.keepalive_timeout, handle_signals=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
