#!/usr/bin/env python3
"""A small HTTP service for the demo and the tests: /health answers, and can be told to fail.

GET  /health      200 {"status": "ok"} (or 500 after POST /fail, until POST /heal)
POST /fail        make /health answer 500
POST /heal        make /health answer 200 again
GET  /slow?ms=N   answer after N ms
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATE = {"failing": False, "started": time.time(), "requests": 0}


class Handler(BaseHTTPRequestHandler):
    def _send(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        STATE["requests"] += 1
        url = urlparse(self.path)
        if url.path == "/health":
            if STATE["failing"]:
                self._send(500, {"status": "error", "error": "told to fail"})
            else:
                self._send(200, {"status": "ok", "pid": os.getpid(),
                                 "uptime": round(time.time() - STATE["started"], 1),
                                 "requests": STATE["requests"]})
        elif url.path == "/slow":
            ms = float(parse_qs(url.query).get("ms", ["1000"])[0])
            time.sleep(ms / 1000)
            self._send(200, {"status": "ok", "sleptMs": ms})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/fail":
            STATE["failing"] = True
            self._send(200, {"failing": True})
        elif self.path == "/heal":
            STATE["failing"] = False
            self._send(200, {"failing": False})
        else:
            self._send(404, {"error": "not found"})

    def log_message(self, fmt: str, *args: object) -> None:
        pass  # quiet: the supervisor's log is the one to read


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--pidfile")
    parser.add_argument("--startup-delay", type=float, default=0.0,
                        help="seconds to wait before listening (a slow starter)")
    parser.add_argument("--fail-start", action="store_true",
                        help="exit with status 1 at once (a service that cannot start)")
    args = parser.parse_args()
    if args.fail_start:
        print("demo service: refusing to start (--fail-start)", file=sys.stderr)
        return 1
    time.sleep(args.startup_delay)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: (server.server_close(), sys.exit(0)))
    print(f"demo service listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
