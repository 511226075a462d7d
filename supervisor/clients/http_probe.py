"""A lean HTTP/1.1 probe for plain health checks: one request, status line, headers, a small body.

Why not aiohttp for these: its client spends ~0.6 ms of CPU per fresh-connection GET here
(connector, happy eyeballs, cookie jar, tracing hooks), most of a check's cost. This is an
`asyncio.Protocol` that connects to the literal address and parses the answer with httptools
(the parser uvicorn uses): ~0.2 ms on the asyncio loop, ~0.08 ms on uvloop, and a few tens of
µs when the connection is kept (docs/benchmarks.md).

Connection reuse, as Envoy's health checker does: the connection is kept when the server allows
keep-alive, a fresh one is opened every `fresh_every` requests (so a dead accept loop is still
caught) and after any failure. A kept connection that closes between requests calls `on_lost`
at once: to a health check that is a sign of death, which it verifies with a fresh request.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from dataclasses import dataclass

import httptools

# Requests on one kept connection before a fresh one is opened.
FRESH_EVERY = 10


@dataclass(slots=True)
class ProbeAnswer:
    status: int
    headers: dict[str, str]  # lower-case names; the first value of a repeated header
    body: bytes
    reused: bool  # answered on a connection kept from an earlier request


class ProbeFailure(Exception):
    """No usable answer. `kind`: "refused" (cannot connect), "broke" (the connection closed or
    reset before the answer was complete) or "bad" (not HTTP)."""

    def __init__(self, kind: str, detail: str, answered: bool = False) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.answered = answered  # some of an answer had arrived


class _Exchange:
    """One request's answer, fed by httptools' callbacks."""

    def __init__(self, head_only: bool, read_body: bool, whole: bool, max_body: int,
                 done: asyncio.Future[None]) -> None:
        self.head_only = head_only
        self.read_body = read_body
        self.whole = whole  # wait for the end of the message (to keep the connection)
        self.max_body = max_body
        self.done = done
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.body_seen = 0
        self.oversized = False  # more body than a health answer needs: do not keep
        self.complete = False  # the whole message arrived: the connection may be kept
        self.keep_alive = False  # the server allows another request on this connection
        self.status = 0
        self.headers_done = False
        self.got_bytes = False
        self.parser = httptools.HttpResponseParser(self)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        # Read now: once the message is complete the parser resets for the next one.
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        if self.head_only:
            self.complete = True
        if self.head_only or not (self.read_body or self.whole):
            self._finish()  # the status and headers are all this check needs

    def on_body(self, data: bytes) -> None:
        self.body_seen += len(data)
        if self.read_body:
            self.body += data[: max(0, self.max_body - len(self.body))]
        if self.body_seen > self.max_body:
            self.oversized = True
            self._finish()

    def on_message_complete(self) -> None:
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        self.complete = True
        self._finish()

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, on_lost: Callable[[Exception | None], None] | None) -> None:
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.closed = False
        self.on_lost = on_lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None or ex.done.done():
            self.abort()  # bytes nobody asked for: the connection is out of step
            return
        ex.got_bytes = True
        try:
            ex.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            ex._finish()
        except httptools.HttpParserError as exc:
            if not ex.done.done():
                ex.done.set_exception(ProbeFailure("bad", f"not an HTTP answer ({exc})", True))

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        ex = self.exchange
        if ex is not None and not ex.done.done():
            if ex.headers_done and exc is None:
                ex._finish()  # a body that ends with the connection
            else:
                why = f"{exc}" if exc else "closed by the server before an answer"
                ex.done.set_exception(ProbeFailure("broke", why, ex.got_bytes))
            return
        if self.on_lost is not None and (ex is None or ex.done.done()):
            self.on_lost(exc)

    def bytes_waiting(self) -> bool:
        """Bytes of the answer were read, or wait unread in the socket."""
        if self.exchange is not None and self.exchange.got_bytes:
            return True
        sock = None if self.transport is None or self.closed else \
            self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            return bool(select.select([sock.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return False

    def abort(self) -> None:
        self.on_lost = None  # closing it ourselves is not news
        if self.transport is not None and not self.closed:
            self.transport.abort()
        self.closed = True


class HttpProbe:
    """Requests to one address; keeps at most one connection between requests."""

    def __init__(self, host: str, port: int, request: bytes, *, head_only: bool = False,
                 read_body: bool = False, max_body: int = 1024 * 1024, reuse: bool = False,
                 fresh_every: int = FRESH_EVERY,
                 on_lost: Callable[[Exception | None], None] | None = None) -> None:
        self.host, self.port = host, port
        self.request = request
        self.head_only, self.read_body, self.max_body = head_only, read_body, max_body
        self.reuse = reuse
        self.fresh_every = fresh_every
        self.on_lost = on_lost
        self._kept: _Connection | None = None
        self._uses = 0  # requests sent on the kept connection
        self.answer_waiting = False

    @property
    def holds_connection(self) -> bool:
        return self._kept is not None and not self._kept.closed

    async def fetch(self) -> ProbeAnswer:
        """Send the request and read the answer. The caller bounds it with a timeout; when
        that timeout cancels the fetch, `answer_waiting` tells whether bytes of the answer had
        already arrived (the caller was late, not the server)."""
        self.answer_waiting = False
        conn, self._kept = self._kept, None  # a concurrent fetch opens its own connection
        reused = conn is not None and not conn.closed and self._uses < self.fresh_every
        if not reused and conn is not None:
            conn.abort()
        try:
            if not reused:
                conn = await self._connect()
                self._uses = 0
            assert conn is not None
            try:
                ex = await self._send(conn)
            except ProbeFailure as failure:
                if not reused or failure.answered:
                    raise
                # The kept connection had died unseen: the answer of a fresh one decides.
                conn.abort()
                conn, reused, self._uses = await self._connect(), False, 0
                ex = await self._send(conn)
        except BaseException as exc:  # a failure, the caller's timeout or a cancellation
            if conn is not None:
                # A late loop runs an expired timer before it reads a socket: an answer may
                # have been waiting when the caller's timeout cancelled us (see answer_waiting).
                self.answer_waiting = isinstance(exc, asyncio.CancelledError) and \
                    conn.bytes_waiting()
                conn.abort()
            raise
        self._uses += 1
        if self.reuse and ex.complete and not ex.oversized and ex.keep_alive and not conn.closed:
            conn.exchange = None
            conn.on_lost = self.on_lost
            self._kept = conn
        else:
            conn.abort()
        return ProbeAnswer(ex.status, ex.headers, bytes(ex.body), reused)

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Connection(None), self.host,
                                                   self.port)
        except ConnectionRefusedError:
            raise ProbeFailure("refused", "connection refused") from None
        except OSError as exc:
            raise ProbeFailure("refused", exc.strerror or str(exc)) from None
        return conn

    async def _send(self, conn: _Connection) -> _Exchange:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ex = _Exchange(self.head_only, self.read_body, self.reuse, self.max_body, done)
        conn.on_lost = None
        conn.exchange = ex
        assert conn.transport is not None
        conn.transport.write(self.request)
        await done
        return ex

    def close(self) -> None:
        if self._kept is not None:
            self._kept.abort()
            self._kept = None


def build_request(method: str, target: str, host_header: str, headers: dict[str, str],
                  keep_alive: bool) -> bytes:
    """The request's bytes; the check's own headers win over the defaults."""
    given = {k.lower() for k in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in given:
        lines.append(f"Host: {host_header}")
    if "user-agent" not in given:
        lines.append("User-Agent: soulfra-supervisor")
    if "accept" not in given:
        lines.append("Accept: */*")
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines.append("Content-Length: 0")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
