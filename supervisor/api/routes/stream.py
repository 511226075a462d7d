"""GET /api/monitoring/events: the bus as server-sent events, resumable with Last-Event-ID.

Every bus event goes out with its bus id, so a client that reconnects (EventSource does it by
itself, sending Last-Event-ID) first gets what it missed from the bus's ring buffer. When the
ring no longer reaches back that far, a `resync` event tells the client to reload its picture
from the REST endpoints. Check results (`check_result`) are not bus events: they have no id,
are never replayed, and go only to clients that ask for them (`?types=...,check_result`).
A comment line every `heartbeat` seconds keeps proxies from closing an idle stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from supervisor.api.context import DAEMON, json_error
from supervisor.api.params import BadParam, parse_int
from supervisor.core.check_result import CheckResult
from supervisor.core.events import Event, EventBus
from supervisor.core.redaction import redact
from supervisor.core.scheduler import add_check_hook

if TYPE_CHECKING:
    from supervisor.daemon import Daemon
    from supervisor.observability.metrics import Metrics

routes = web.RouteTableDef()

HEARTBEAT_S = 15
RETRY_MS = 2000
CLIENT_QUEUE = 2000
CHECK_RESULT = "check_result"
ALL = "*"  # in ?types=: every bus event (e.g. `*,check_result` adds the check results)


Item = tuple[int | None, bytes] | None  # (bus id or None, frame); None ends the stream


class _Client:
    def __init__(self, types: frozenset[str] | None) -> None:
        self.types = types
        self.queue: asyncio.Queue[Item] = asyncio.Queue(CLIENT_QUEUE)

    def wants(self, type_: str) -> bool:
        if self.types is None or (ALL in self.types and type_ != CHECK_RESULT):
            return type_ != CHECK_RESULT  # check results only on request: they are many
        return type_ in self.types

    def offer(self, item: Item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A client this far behind is closed; it reconnects and resumes from the ring.
            self.end()

    def end(self) -> None:
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


def frame(event: Event, boot: str) -> bytes:
    data = json.dumps(redact(event.to_dict()), separators=(",", ":"), default=str)
    return f"id: {boot}-{event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()


def check_frame(service: str, result: CheckResult) -> bytes:
    data = json.dumps(redact({"type": CHECK_RESULT, "service": service, "at": result.at,
                              "data": result.to_dict()}), separators=(",", ":"), default=str)
    return f"event: {CHECK_RESULT}\ndata: {data}\n\n".encode()


class Broadcaster:
    """Fans bus events (and, on request, check results) out to connected stream clients."""

    def __init__(self, bus: EventBus, boot: str, metrics: Metrics | None = None) -> None:
        self.bus = bus
        self.boot = boot
        self.metrics = metrics
        self.clients: set[_Client] = set()
        self.closing = False
        bus.subscribe("event-stream", self.on_event)

    async def on_event(self, event: Event) -> None:
        data: bytes | None = None
        for client in list(self.clients):
            if client.wants(event.type):
                data = data or frame(event, self.boot)
                client.offer((event.id, data))

    def on_check(self, service: str, result: CheckResult) -> None:
        data: bytes | None = None
        for client in list(self.clients):
            if client.types is not None and CHECK_RESULT in client.types:
                data = data or check_frame(service, result)
                client.offer((None, data))

    def attach(self, client: _Client) -> None:
        self.clients.add(client)
        self._count()

    def detach(self, client: _Client) -> None:
        self.clients.discard(client)
        self._count()

    def _count(self) -> None:
        if self.metrics is not None:
            self.metrics.sse_clients.set(len(self.clients))

    async def close(self, _app: web.Application | None = None) -> None:
        """On shutdown: end every stream so that the server does not wait for them."""
        self.closing = True
        for client in list(self.clients):
            client.end()


BROADCASTER: web.AppKey[Broadcaster] = web.AppKey("broadcaster")


def setup(app: web.Application, daemon: Daemon) -> Broadcaster:
    """Start fanning the daemon's events out; end every stream when the app shuts down."""
    # Bus ids restart at 1 with the daemon; the boot part tells a resuming client so.
    broadcaster = Broadcaster(daemon.bus, f"{round(daemon.started_at * 1000):x}",
                              daemon.metrics)
    add_check_hook(daemon.scheduler, broadcaster.on_check)
    app[BROADCASTER] = broadcaster
    app.on_shutdown.append(broadcaster.close)
    return broadcaster


def _resume_from(request: web.Request, boot: str) -> int | None:
    """The bus id to resume after; -1 when the id is from an earlier run of the daemon."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    if raw is None or raw == "":
        return None
    their_boot, _, number = raw.rpartition("-")
    try:
        after = max(0, int(number))
    except ValueError:
        raise BadParam("Last-Event-ID", f"{raw!r} is not an event id from this stream "
                                        "(BOOT-NUMBER or a number)") from None
    return after if their_boot in ("", boot) else -1


@routes.get("/api/monitoring/events")
async def events(request: web.Request) -> web.StreamResponse:
    daemon = request.app[DAEMON]
    broadcaster = request.app[BROADCASTER]
    try:
        after = _resume_from(request, broadcaster.boot)
        heartbeat = parse_int("heartbeat", request.query.get("heartbeat"), HEARTBEAT_S, 1, 300)
    except BadParam as exc:
        return exc.response()
    types_param = request.query.get("types", "")
    types = frozenset(t.strip() for t in types_param.split(",") if t.strip()) or None
    if broadcaster.closing:
        return json_error(503, "shutting down")

    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
    })
    await response.prepare(request)
    client = _Client(types)
    # Register before reading the ring so nothing published in between is lost; the ids keep
    # an event that is both in the ring and in the queue from being sent twice.
    broadcaster.attach(client)
    try:
        await response.write(f"retry: {RETRY_MS}\n: soulfra-supervisor event stream\n\n"
                             .encode())
        backlog = list(daemon.bus.recent)
        sent = backlog[-1].id if backlog else 0
        if after is not None:
            if after < 0 or (backlog and after + 1 < backlog[0].id):
                # From an earlier run, or further back than the ring reaches.
                await response.write(_resync(after, backlog[0].id if backlog else None))
                after = max(after, 0)
            for event in backlog:
                if event.id > after and client.wants(event.type):
                    await response.write(frame(event, broadcaster.boot))
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), heartbeat)
            except TimeoutError:
                await response.write(f": heartbeat {time.time():.0f}\n\n".encode())
                continue
            if item is None:
                break
            event_id, data = item
            if event_id is not None:
                if event_id <= sent:
                    continue
                sent = event_id
            await response.write(data)
    except ConnectionResetError:
        pass
    finally:
        broadcaster.detach(client)
    return response


def _resync(after: int, oldest: int | None) -> bytes:
    data: dict[str, Any] = {"type": "resync", "lastEventId": after, "oldestAvailable": oldest,
                            "message": "events were missed; reload the state from the API"}
    return f"event: resync\ndata: {json.dumps(data)}\n\n".encode()
