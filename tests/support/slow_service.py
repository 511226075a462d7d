"""A real HTTP service run by a test in a thread: /health answers after `delay_s`, or 500 when
told to fail; /repair (a recovery webhook) answers 500 after `repair_delay_s`."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.support.helpers import free_port


class SlowService:
    def __init__(self) -> None:
        self.delay_s = 0.0
        self.failing = False
        self.repair_delay_s = 0.3
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, code: int, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                time.sleep(owner.delay_s)
                if owner.failing:
                    self._answer(500, b'{"status": "broken"}')
                else:
                    self._answer(200, b'{"status": "ok"}')

            def do_POST(self) -> None:  # noqa: N802
                time.sleep(owner.repair_delay_s)
                self._answer(500, b'{"repaired": false}')

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> SlowService:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
