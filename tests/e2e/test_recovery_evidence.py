"""Fresh evidence right before acting, without paying for it twice: a service that stopped
answering is restarted on the round of checks that just failed (it is fresh evidence), not
after a second round that has to wait out the whole timeout again. A real daemon against a
real listener that accepts connections and never answers (as a hung process does)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.support.helpers import free_port, services_file, wait_for


class Hung:
    """Accepts every connection and never answers; notes when each one came (wall clock)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.held: list[socket.socket] = []
        self.accepted: list[float] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed: the test is over
                return
            self.accepted.append(time.time())
            self.held.append(conn)  # kept open, unanswered

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join(5)


@pytest.mark.timeout(60)
def test_a_hung_service_is_restarted_on_the_round_that_failed(daemon_factory) -> None:
    port = free_port()
    hung = Hung(port)
    try:
        # One scheduled round in the first 2 s, then none for a minute: any further probe of
        # the hung listener before the restart is the pre-action re-check.
        svc = {"port": port, "healthCheckPath": "/health", "interval": 60_000,
               "timeoutThreshold": 1000, "errorThreshold": 1, "autoRestart": True,
               "ladder": [{"strategy": "restart_command", "attempts": 1,
                           "command": ["/bin/sh", "-c", "exit 0"]}]}
        d = daemon_factory(services_file({"hung": svc}, startupGrace=1000))
        run = wait_for(lambda: next((r for r in d.service("hung")["recentRecoveries"]
                                     if r["status"] not in ("queued", "running")), None),
                       timeout=30, what="the recovery finished")
        assert run["attempts"] and run["attempts"][0]["strategy"] == "restart_command", run
        acted_at = run["attempts"][0]["startedAt"]
        before = [t for t in hung.accepted if t < acted_at]
        # the failing round's connection only: no second round waited out another timeout
        assert len(before) == 1, (before, acted_at)
    finally:
        hung.close()
