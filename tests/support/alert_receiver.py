"""A local HTTP receiver that answers like Slack, Discord and a plain webhook, for alert tests.

It runs an aiohttp server in its own thread (so both synchronous tests and the daemon can
talk to it), records every request, and answers from a per-kind plan, then per-kind mode.
Also: checkers for each platform's documented payload limits.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.helpers import free_port

SLACK_TOKEN = "T0SECRET/B0SECRET/slacksecrettoken123"
DISCORD_TOKEN = "123456/discordsecrettoken456"
DEFAULT = {"slack": (200, {}, "ok"), "discord": (204, {}, ""),
           "webhook": (200, {"Content-Type": "application/json"}, '{"ok": true}')}
Reply = tuple[int, dict[str, str], str]


@dataclass
class Received:
    kind: str
    path: str
    headers: dict[str, str]
    raw: bytes
    at: float
    status: int = 0
    json: Any = field(default=None)
    query: str = ""

    @property
    def acked(self) -> bool:
        return 200 <= self.status < 300


class Receiver:
    # kind -> (path pattern, normal answer); subclasses answer like other services
    ROUTES: dict[str, str] = {"slack": "/services/{tail:.*}", "discord": "/api/webhooks/{tail:.*}",
                              "webhook": "/hook/{tail:.*}"}
    DEFAULT: dict[str, Reply] = DEFAULT

    def __init__(self, tls: tuple[Any, Any] | None = None) -> None:
        """tls: (certificate, key) files: also listen with TLS on `tls_port`."""
        self.port = free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else 0
        self.received: list[Received] = []
        self.plans: dict[str, deque[Reply]] = {k: deque() for k in self.DEFAULT}
        self.modes: dict[str, Reply | None] = {k: None for k in self.DEFAULT}
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    # -- addresses --------------------------------------------------------------------------
    def url(self, kind: str, name: str = "") -> str:
        base = f"http://127.0.0.1:{self.port}"
        if kind == "slack":
            return f"{base}/services/{SLACK_TOKEN}{name}"
        if kind == "discord":
            return f"{base}/api/webhooks/{DISCORD_TOKEN}{name}"
        return f"{base}/hook/{name or 'main'}"

    # -- control ----------------------------------------------------------------------------
    def start(self) -> Receiver:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def down(self) -> None:
        """Stop listening: the daemon sees connection refused."""
        self._call(self._stop())

    def up(self) -> None:
        self._call(self._start())

    def plan(self, kind: str, *replies: Reply) -> None:
        with self._lock:
            self.plans[kind].extend(replies)

    def mode(self, kind: str, reply: Reply | None) -> None:
        """Answer every request of `kind` with `reply` (None: the platform's normal answer)."""
        with self._lock:
            self.modes[kind] = reply

    def of(self, kind: str, acked_only: bool = False) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.kind == kind and (r.acked or not acked_only)]

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _start(self) -> None:
        app = web.Application()
        for kind, path in self.ROUTES.items():
            app.router.add_post(path, self._handle(kind))
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        if self.tls:
            import ssl

            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*self.tls)
            await web.TCPSite(self._runner, "127.0.0.1", self.tls_port, ssl_context=ctx,
                              reuse_address=True).start()

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _handle(self, kind: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            raw = await request.read()
            rec = Received(kind, request.path, dict(request.headers), raw, time.time(),
                           query=request.query_string)
            try:
                rec.json = json.loads(raw)
            except ValueError:
                pass
            with self._lock:
                plan = self.plans[kind]
                status, headers, body = (plan.popleft() if plan else
                                         self.modes[kind] or self.DEFAULT[kind])
                rec.status = status
                self.received.append(rec)
            return web.Response(status=status, headers=headers, text=body)
        return handler


# -- the platforms' documented limits ---------------------------------------------------------
def slack_problems(payload: dict[str, Any]) -> list[str]:
    """Slack: 50 blocks, section text 3000, 10 fields of 2000, header 150 (plain_text)."""
    problems = []
    if not isinstance(payload.get("text"), str) or not payload["text"]:
        problems.append("text fallback missing")
    blocks = [b for a in payload.get("attachments", []) for b in a.get("blocks", [])]
    blocks += payload.get("blocks", [])
    if len(blocks) > 50:
        problems.append(f"{len(blocks)} blocks > 50")
    for i, b in enumerate(blocks):
        if b["type"] == "header":
            if b["text"]["type"] != "plain_text" or len(b["text"]["text"]) > 150:
                problems.append(f"block {i}: header text > 150 or not plain_text")
        if b["type"] == "section":
            if "text" in b and len(b["text"]["text"]) > 3000:
                problems.append(f"block {i}: section text {len(b['text']['text'])} > 3000")
            fields = b.get("fields", [])
            if len(fields) > 10 or any(len(f["text"]) > 2000 for f in fields):
                problems.append(f"block {i}: fields over 10 or over 2000 characters")
        if b["type"] == "context" and len(b["elements"]) > 10:
            problems.append(f"block {i}: context over 10 elements")
    for a in payload.get("attachments", []):
        if not str(a.get("color", "")).startswith("#"):
            problems.append("attachment colour is not #rrggbb")
    return problems


def discord_problems(payload: dict[str, Any]) -> list[str]:
    """Discord: title 256, description 4096, 25 fields (name 256, value 1024), footer 2048,
    10 embeds, 6000 characters over all embeds, content 2000, colour an integer."""
    problems = []
    if len(payload.get("content", "")) > 2000:
        problems.append("content > 2000")
    embeds = payload.get("embeds", [])
    if len(embeds) > 10:
        problems.append("more than 10 embeds")
    total = 0
    for i, e in enumerate(embeds):
        title, desc = e.get("title", ""), e.get("description", "")
        fields = e.get("fields", [])
        footer = e.get("footer", {}).get("text", "")
        if len(title) > 256:
            problems.append(f"embed {i}: title {len(title)} > 256")
        if len(desc) > 4096:
            problems.append(f"embed {i}: description > 4096")
        if len(fields) > 25:
            problems.append(f"embed {i}: {len(fields)} fields > 25")
        for f in fields:
            if len(f["name"]) > 256 or len(f["value"]) > 1024 or not f["value"]:
                problems.append(f"embed {i}: field {f['name'][:20]!r} too long or empty")
        if len(footer) > 2048:
            problems.append(f"embed {i}: footer > 2048")
        if not isinstance(e.get("color"), int):
            problems.append(f"embed {i}: color is not an integer")
        if "timestamp" in e:
            from datetime import datetime
            datetime.fromisoformat(e["timestamp"])
        total += len(title) + len(desc) + len(footer) + sum(len(f["name"]) + len(f["value"])
                                                             for f in fields)
    if total > 6000:
        problems.append(f"embeds total {total} > 6000")
    return problems
