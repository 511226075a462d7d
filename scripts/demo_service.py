#!/usr/bin/env python3
"""A small HTTP service for the demo and the tests: /health answers, and can be told to fail.

GET  /health      200 {"status": "ok"} (or 500 after POST /fail, until POST /heal)
POST /fail        make /health answer 500
POST /heal        make /health answer 200 again
GET  /slow?ms=N   answer after N ms
POST /reconnect   count a reconnect (a service's reconnect hook)
SIGHUP            reload: heal, as POST /heal does

Options make it depend on things a supervisor repairs without restarting it: a Redis server
(--redis-port: /health PINGs it), and a data directory that must exist with a mode
(--data-dir/--data-mode, as PostgreSQL insists on its data directory's permissions).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import stat
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

STATE = {"failing": False, "started": time.time(), "requests": 0, "reloads": 0,
         "reconnects": 0}
ARGS = argparse.Namespace(redis_port=None, data_dir=None, data_mode=None)


def redis_problem() -> str | None:
    if ARGS.redis_port is None:
        return None
    try:
        with socket.create_connection(("127.0.0.1", ARGS.redis_port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(64).startswith(b"+PONG"):
                return f"redis on port {ARGS.redis_port} answered wrongly"
    except OSError as exc:
        return f"redis on port {ARGS.redis_port} unreachable: {exc.strerror or exc}"
    return None


def data_dir_problem() -> str | None:
    if ARGS.data_dir is None:
        return None
    try:
        mode = stat.S_IMODE(os.stat(ARGS.data_dir).st_mode)
    except FileNotFoundError:
        return f"data directory {ARGS.data_dir} is missing"
    if ARGS.data_mode is not None and mode != int(ARGS.data_mode, 8):
        return f"data directory {ARGS.data_dir} has mode {mode:04o}, must be {ARGS.data_mode}"
    return None


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
            problem = redis_problem() or data_dir_problem()
            if STATE["failing"] or problem:
                self._send(500, {"status": "error", "error": problem or "told to fail",
                                 "requests": STATE["requests"]})
            else:
                self._send(200, {"status": "ok", "pid": os.getpid(),
                                 "uptime": round(time.time() - STATE["started"], 1),
                                 "requests": STATE["requests"], "reloads": STATE["reloads"],
                                 "reconnects": STATE["reconnects"]})
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
        elif self.path == "/reconnect":
            STATE["reconnects"] += 1
            self._send(200, {"reconnects": STATE["reconnects"]})
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
    parser.add_argument("--fail-starts-file",
                        help="a file holding N: the next N starts fail (N counts down)")
    parser.add_argument("--starts-file",
                        help="append this process's pid to the file when it starts (a test "
                             "counts the starts of a service several supervisors watch)")
    parser.add_argument("--redis-port", type=int, help="/health fails while this Redis is down")
    parser.add_argument("--data-dir", help="/health fails while this directory is missing")
    parser.add_argument("--data-mode", help="... or has another mode than this (e.g. 0700)")
    args = parser.parse_args()
    ARGS.redis_port, ARGS.data_dir, ARGS.data_mode = args.redis_port, args.data_dir, \
        args.data_mode
    if args.starts_file:
        with open(args.starts_file, "a") as f:
            f.write(f"{os.getpid()}\n")
    if args.fail_start:
        print("demo service: refusing to start (--fail-start)", file=sys.stderr)
        return 1
    if args.fail_starts_file and _count_down(args.fail_starts_file):
        print("demo service: failing this start (--fail-starts-file)", file=sys.stderr)
        return 1
    time.sleep(args.startup_delay)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write(f"{os.getpid()}\n")
    signal.signal(signal.SIGTERM, lambda *_: (server.server_close(), sys.exit(0)))
    signal.signal(signal.SIGHUP, _reload)
    print(f"demo service listening on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


def _reload(*_: object) -> None:
    STATE["reloads"] += 1
    STATE["failing"] = False


def _count_down(path: str) -> bool:
    """True (fail this start) while the file holds a number above zero; counts it down."""
    try:
        left = int(open(path).read().strip() or 0)
    except (OSError, ValueError):
        return False
    if left <= 0:
        return False
    with open(path, "w") as f:
        f.write(str(left - 1))
    return True


if __name__ == "__main__":
    raise SystemExit(main())
