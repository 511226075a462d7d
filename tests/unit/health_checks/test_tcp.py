"""The tcp check against real sockets: refused when nothing listens, stalled when the backlog is
full."""

from __future__ import annotations

import asyncio
import socket

from health_checks.base import CheckKind
from tests.support.checks import make_check
from tests.support.helpers import free_port


async def test_http_and_tcp_refused_when_nothing_listens(make_http):
    port = free_port()
    r = await make_http(url=f"http://127.0.0.1:{port}/health").run()
    assert r.kind is CheckKind.REFUSED and "refused" in r.message
    r = await make_check("tcp", port=port).run()
    assert r.kind is CheckKind.REFUSED


async def test_tcp_stalls_when_the_backlog_is_full():
    # A listener that never accepts, with its backlog filled: new connects hang.
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        await asyncio.sleep(0.1)
        r = await make_check("tcp", port=port, timeout=300).run()
        assert r.kind is CheckKind.STALLED and r.latency_ms < 1000
    finally:
        for s in fillers:
            s.close()
        srv.close()
