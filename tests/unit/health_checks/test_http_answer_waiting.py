"""A check whose answer arrived in time but was not read in time, because the daemon's own
loop was late (blocked, or starved of CPU): a late loop runs the expired timeout before it
reads the socket. That is the daemon's trouble, not the service's: the probe says the answer
was waiting, and the self-watch's judge makes the result inconclusive (not counted against
the service). Found by bench/run false-alarms: healthy services that answer near their
timeout were declared failing while the machine's CPU was saturated."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

import health_checks
from health_checks.base import CheckKind
from supervisor.observability.own_trouble import OwnTrouble

pytestmark = pytest.mark.timeout(30)
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class Server:
    """A loopback server that answers a request once released (or never, when told so), and
    says when it has received the request and when its answer is sent."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.got, self.release, self.sent = threading.Event(), threading.Event(), \
            threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        conn.recv(4096)
        self.got.set()
        if self.answer and self.release.wait(10):
            conn.sendall(ANSWER)
            self.sent.set()

    def close(self) -> None:
        self.release.set()
        for c in self.conns:
            c.close()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    s = Server(answer=request.param)
    yield s
    s.close()


def make(check_env, url: str, timeout_ms: int):
    cls = health_checks.registry.get("http")
    cfg = cls.config_model.model_validate({"type": "http", "url": url, "timeout": timeout_ms})
    check = cls(cfg, "api", check_env)
    assert check.client == "lean"
    return check


def judge() -> OwnTrouble:
    # no loop lag sampled: only what the probe saw can make the result inconclusive
    return OwnTrouble(lambda *a, **k: None, lambda since: 0.0)


def block_loop_after_request(server: Server, until: float) -> None:
    """On the loop: once the server has the request, block the loop (as a sync call by
    mistake would), let the server answer, and stay blocked past the check's timeout."""
    loop = asyncio.get_running_loop()

    def poll() -> None:
        if not server.got.is_set():
            loop.call_later(0.005, poll)
            return
        server.release.set()
        server.sent.wait(5)
        time.sleep(max(0.0, until - time.monotonic()))
    loop.call_soon(poll)


@pytest.mark.parametrize("server", [True], indirect=True)
async def test_an_answer_left_unread_by_a_late_loop_is_inconclusive(check_env, server):
    timeout_s = 2.0
    check = make(check_env, f"http://127.0.0.1:{server.port}/health", int(timeout_s * 1000))
    started = time.monotonic()
    # past the deadline, yet well within the judge's own lateness margin (25 % of 2 s)
    block_loop_after_request(server, started + timeout_s + 0.2)
    raw = await check.run()
    assert raw.kind is CheckKind.STALLED, raw
    assert raw.details.get("answerWaiting") is True

    judged = judge().judge("api", timeout_s, raw, started)
    assert judged.kind is CheckKind.INCONCLUSIVE, judged
    assert "answer already waiting unread" in judged.message
    await check.close()


@pytest.mark.parametrize("server", [False], indirect=True)
async def test_a_service_that_never_answers_is_still_stalled(check_env, server):
    check = make(check_env, f"http://127.0.0.1:{server.port}/health", 300)
    started = time.monotonic()
    raw = await check.run()
    assert server.got.is_set()
    assert raw.kind is CheckKind.STALLED, raw
    assert "answerWaiting" not in raw.details
    assert judge().judge("api", 0.3, raw, started).kind is CheckKind.STALLED
    await check.close()
