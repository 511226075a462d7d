#!/usr/bin/env python3
"""An HTTP server with N health paths that records when each one is asked for.

GET /p<i>          200 (or, for a path told to hang, no answer ever: the connection stays open)
POST /__hang?every=K   from now on every K-th path hangs (0: none)
POST /__reset      forget the recorded requests
GET /__stats       {"now": t, "idx": [...], "t": [...]}: path index and arrival time of every
                   request since the last reset (time.monotonic(), the same clock as the caller)

Measuring at the server means the numbers do not depend on what a supervisor says of itself.
A bare asyncio protocol (no framework), so that the server costs little next to the peers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import parse_qs, urlsplit

OK = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n"
      b"Connection: close\r\n\r\n{\"status\":\"ok\"}")
OK_KEEP = OK.replace(b"Connection: close", b"Connection: keep-alive")
NOT_FOUND = (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")


class Recorder:
    def __init__(self, paths: int) -> None:
        self.paths = paths
        self.hang_every = 0
        self.idx: list[int] = []
        self.t: list[float] = []

    def hangs(self, i: int) -> bool:
        return self.hang_every > 0 and i % self.hang_every == 0


class Http(asyncio.Protocol):
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buf += data
        if b"\r\n\r\n" not in self.buf:
            return
        head = self.buf.split(b"\r\n\r\n", 1)[0]
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split()
        method, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "/")
        # HTTP/1.1 keeps the connection unless the client says close (Monit and soulfra's
        # fresh-connection checks do; its reuseConnection checks do not).
        keep = line.endswith("HTTP/1.1") and b"connection: close" not in head.lower()
        self.buf = b""
        assert self.transport is not None
        if target.startswith("/p") and target[2:].isdigit():
            i = int(target[2:])
            if i >= self.rec.paths:
                self._reply(NOT_FOUND)
                return
            self.rec.idx.append(i)
            self.rec.t.append(now)
            if self.rec.hangs(i):
                return  # keep the connection open and say nothing
            if keep:
                self.transport.write(OK_KEEP)
            else:
                self._reply(OK)
        else:
            self._control(method, target)

    def _control(self, method: str, target: str) -> None:
        url = urlsplit(target)
        body: object = {"ok": True}
        if method == "POST" and url.path == "/__hang":
            self.rec.hang_every = int(parse_qs(url.query).get("every", ["0"])[0])
        elif method == "POST" and url.path == "/__reset":
            self.rec.idx, self.rec.t = [], []
        elif url.path == "/__stats":
            body = {"now": time.monotonic(), "idx": self.rec.idx, "t": self.rec.t}
        else:
            self._reply(NOT_FOUND)
            return
        data = json.dumps(body).encode()
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode()
        self._reply(head + data)

    def _reply(self, raw: bytes) -> None:
        assert self.transport is not None
        self.transport.write(raw)
        self.transport.close()


async def serve(host: str, port: int, paths: int) -> None:
    rec = Recorder(paths)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Http(rec), host, port, backlog=4096,
                                      reuse_address=True)
    print(f"scale server: {paths} paths on http://{host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", type=int, required=True)
    parser.add_argument("--tag", default="", help="ignored; marks the process as the run's")
    args = parser.parse_args()
    try:  # the server must keep up with the peers: uvloop when installed
        import uvloop
        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.host, args.port, args.paths))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
