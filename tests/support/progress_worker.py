"""A worker with a queue: /health always answers 200, /stats shows its counters, and
POST /jam wedges its worker thread (a deadlock) while the HTTP side stays responsive."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"processed": 0, "queued": 50}
jammed = threading.Event()
lock = threading.Lock()


def work() -> None:
    while True:
        if jammed.is_set():
            threading.Event().wait()  # stuck forever, like a lost lock
        with lock:
            if state["queued"] > 0:
                state["queued"] -= 1
                state["processed"] += 1
            else:
                state["queued"] = 50  # new work arrives
        time.sleep(0.05)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/stats":
            with lock:
                self._send(200, {"worker": dict(state)})
        else:
            self._send(404, {})

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/jam":
            jammed.set()
        self._send(200, {})


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    threading.Thread(target=work, daemon=True).start()
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
