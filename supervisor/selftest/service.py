"""A small throwaway HTTP service that can be told to misbehave: the demo's service, the
tests' and `soulfra-supervisor selftest`'s. It ships in the package (python -m
supervisor.selftest.service) so that selftest works from a pip install, outside a checkout.

GET  /health            200 {"status": "ok", "pid": ...}; 500 after POST /fail or while a
                        dependency below is wrong; never answers after POST /deadlock
GET  /stats             {"processed": n, "queued": q}: a counter and a queue that move by
                        themselves (every 100 ms) until POST /stall-progress, /stall-queue
GET  /slow?ms=N         answer after N ms
POST /fail, /heal       make /health answer 500, or 200 again (SIGHUP heals too: a reload)
POST /slowdown?ms=N     /health answers after N ms; POST /fast undoes it
POST /deadlock          every later /health blocks forever (the process stays alive)
POST /leak-memory?mbps=N   grow by N MiB a second;  POST /leak-fds?n=N   open N files
POST /leak-pg           open connections to --pg-dsn and never close them (every slot)
POST /throw?n=N         N unhandled exceptions in threads (reported by sentry_sdk with --dsn)
POST /stop-beats        stop the check-ins sent to --beat-url
POST /repair            copy --sqlite-backup over --sqlite (the service's own repair hook)
POST /reconnect         count a reconnect (a service's reconnect hook)

Options make it depend on things a supervisor repairs without restarting it: a Redis server
(--redis-port), another service (--dep-url), a data directory with a mode (--data-dir,
--data-mode, as PostgreSQL insists on its data directory's permissions), a lock file that a
crash leaves behind (--lockfile: a start refuses while it exists).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import sys
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from supervisor.selftest.misbehave import Behaviour, mqtt_presence


def problem(args: argparse.Namespace) -> str | None:
    """What makes /health fail besides POST /fail: a dependency or a path that is wrong."""
    if args.redis_port is not None:
        try:
            with socket.create_connection(("127.0.0.1", args.redis_port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if not s.recv(64).startswith(b"+PONG"):
                    return f"redis on port {args.redis_port} answered wrongly"
        except OSError as exc:
            return f"redis on port {args.redis_port} unreachable: {exc.strerror or exc}"
    if args.dep_url is not None:
        try:
            urllib.request.urlopen(args.dep_url, timeout=0.5).close()
        except OSError as exc:
            return f"dependency {args.dep_url} unreachable: {exc}"
    if args.data_dir is not None:
        try:
            mode = stat.S_IMODE(os.stat(args.data_dir).st_mode)
        except FileNotFoundError:
            return f"data directory {args.data_dir} is missing"
        if args.data_mode is not None and mode != int(args.data_mode, 8):
            return f"data directory {args.data_dir} has mode {mode:04o}, must be {args.data_mode}"
    return None


class Handler(BaseHTTPRequestHandler):
    server: Server

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        b = self.server.behaviour
        b.requests += 1
        url = urlparse(self.path)
        if url.path == "/health":
            b.wait_if_deadlocked()
            if b.slow_ms:
                time.sleep(b.slow_ms / 1000)
            trouble = problem(self.server.args)
            if b.failing or trouble:
                self._send(500, {"status": "error", "error": trouble or "told to fail",
                                 "requests": b.requests})
            else:
                self._send(200, {"status": "ok", "pid": os.getpid(),
                                 "uptime": round(time.time() - b.started, 1),
                                 "requests": b.requests, "reloads": b.reloads,
                                 "reconnects": b.reconnects,
                                 "mqttConnects": b.mqtt_connects,
                                 "mqttConnected": b.mqtt_connected,
                                 "pgHeld": b.pg_held})
        elif url.path == "/stats":
            self._send(200, b.stats())
        elif url.path == "/slow":
            ms = float(parse_qs(url.query).get("ms", ["1000"])[0])
            time.sleep(ms / 1000)
            self._send(200, {"status": "ok", "sleptMs": ms})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        b, args = self.server.behaviour, self.server.args
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        actions: dict[str, Callable[[], object]] = {
            "/fail": lambda: setattr(b, "failing", True),
            "/heal": lambda: setattr(b, "failing", False),
            "/reconnect": lambda: setattr(b, "reconnects", b.reconnects + 1),
            "/slowdown": lambda: setattr(b, "slow_ms", float(query.get("ms", "1000"))),
            "/fast": lambda: setattr(b, "slow_ms", 0.0),
            "/deadlock": b.deadlock,
            "/leak-memory": lambda: b.leak_memory(float(query.get("mbps", "20"))),
            "/leak-fds": lambda: b.leak_fds(int(query.get("n", "100"))),
            "/leak-pg": lambda: b.leak_pg_connections(args.pg_dsn),
            "/throw": lambda: b.throw(int(query.get("n", "20")), 0.05),
            "/stall-progress": lambda: setattr(b, "progress_stalled", True),
            "/stall-queue": lambda: setattr(b, "queue_stalled", True),
            "/stop-beats": lambda: setattr(b, "beating", False),
            "/repair": lambda: _restore(args),
        }
        action = actions.get(url.path)
        if action is None:
            self._send(404, {"error": "not found"})
            return
        if url.path == "/leak-pg" and not args.pg_dsn:
            self._send(400, {"error": "/leak-pg needs the service started with --pg-dsn"})
            return
        action()
        self._send(200, {"done": url.path, "failing": b.failing, "reconnects": b.reconnects})

    def log_message(self, fmt: str, *args: object) -> None:
        pass  # quiet: the supervisor's log is the one to read


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, args: argparse.Namespace, behaviour: Behaviour) -> None:
        self.args = args
        self.behaviour = behaviour
        super().__init__((args.host, args.port), Handler)


def _restore(args: argparse.Namespace) -> None:
    if args.sqlite and args.sqlite_backup:
        shutil.copyfile(args.sqlite_backup, args.sqlite)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8787)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--pidfile")
    p.add_argument("--startup-delay", type=float, default=0.0,
                   help="seconds to wait before listening (a slow starter)")
    p.add_argument("--startup-delay-file", help="a file holding those seconds, read at start")
    p.add_argument("--fail-start", action="store_true",
                   help="exit with status 1 at once (a service that cannot start)")
    p.add_argument("--fail-starts-file",
                   help="a file holding N: the next N starts fail (N counts down)")
    p.add_argument("--starts-file",
                   help="append this process's pid to the file when it starts (a test counts "
                        "the starts of a service several supervisors watch)")
    p.add_argument("--redis-port", type=int, help="/health fails while this Redis is down")
    p.add_argument("--dep-url", help="/health fails while this URL does not answer 2xx")
    p.add_argument("--data-dir", help="/health fails while this directory is missing")
    p.add_argument("--data-mode", help="... or has another mode than this (e.g. 0700)")
    p.add_argument("--lockfile", help="a start refuses while this file exists")
    p.add_argument("--beat-url", help="POST a check-in here every --beat-every seconds")
    p.add_argument("--beat-every", type=float, default=0.3)
    p.add_argument("--dsn", help="report unhandled exceptions with sentry_sdk to this DSN")
    p.add_argument("--sqlite", help="the service's SQLite file (POST /repair restores it)")
    p.add_argument("--sqlite-backup", help="the copy POST /repair restores from")
    p.add_argument("--mqtt-port", type=int, help="a broker on 127.0.0.1 to announce to ...")
    p.add_argument("--mqtt-topic", help="... on this topic, with a last will of 'offline'")
    p.add_argument("--pg-dsn", help="the PostgreSQL that POST /leak-pg leaks connections to")
    p.add_argument("--tls-cert", help="serve https with this certificate (PEM) ...")
    p.add_argument("--tls-key", help="... and this key")
    return p.parse_args(argv)


def _read_number(path: str | None) -> float:
    try:
        return float(open(path).read().strip() or 0) if path else 0.0
    except (OSError, ValueError):
        return 0.0


def _count_down(path: str) -> bool:
    """True (fail this start) while the file holds a number above zero; counts it down."""
    left = int(_read_number(path))
    if left <= 0:
        return False
    with open(path, "w") as f:
        f.write(str(left - 1))
    return True


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.starts_file:
        with open(args.starts_file, "a") as f:
            f.write(f"{os.getpid()}\n")
    if args.fail_start:
        print("demo service: refusing to start (--fail-start)", file=sys.stderr)
        return 1
    if args.fail_starts_file and _count_down(args.fail_starts_file):
        print("demo service: failing this start (--fail-starts-file)", file=sys.stderr)
        return 1
    if args.lockfile and os.path.exists(args.lockfile):
        print(f"demo service: lock file {args.lockfile} exists: another instance runs?",
              file=sys.stderr)
        return 1
    time.sleep(args.startup_delay + _read_number(args.startup_delay_file))
    if args.dsn:
        import sentry_sdk  # only the SDK fault needs it

        sentry_sdk.init(dsn=args.dsn, release="selftest@1")
    behaviour = Behaviour()
    server = Server(args, behaviour)
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    for path, text in ((args.pidfile, f"{os.getpid()}\n"), (args.lockfile, f"{os.getpid()}\n")):
        if path:
            with open(path, "w") as f:
                f.write(text)

    def stop(*_: object) -> None:
        server.server_close()
        if args.lockfile:
            with contextlib.suppress(OSError):
                os.unlink(args.lockfile)
        sys.exit(0)

    def reload(*_: object) -> None:
        behaviour.reloads += 1
        behaviour.failing = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, reload)
    behaviour.start_work()
    if args.mqtt_port and args.mqtt_topic:
        mqtt_presence("127.0.0.1", args.mqtt_port, args.mqtt_topic, behaviour)
    if args.beat_url:
        behaviour.beat_to(args.beat_url, args.beat_every)
    scheme = "https" if args.tls_cert else "http"
    print(f"demo service listening on {scheme}://{args.host}:{args.port}", flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
