"""Time from a state change to the alert arriving at a webhook, through the real daemon.

    .venv/bin/python -m bench.alert_latency [ROUNDS] [GROUP_WINDOW_MS] [webhook|email]

A tcp-checked service fails (its listener closes) and recovers (it reopens), ROUNDS times,
with automatic recovery off and `fireOn: failing`, so every change makes one message. The
latency is the receiver's arrival time minus the `eventAt` of the state change in the
payload (email: the X-Soulfra-Event-At header; the mail arrives at a local aiosmtpd server
over STARTTLS with AUTH, as with a real relay). The check interval (300 ms) is not part of it:
it starts at the state change.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.support.alert_receiver import Receiver
from tests.support.helpers import DaemonProcess, services_file, wait_for


def _listen(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


class _Webhook:
    def __init__(self) -> None:
        self.receiver = Receiver().start()

    def channel(self) -> dict[str, Any]:
        return {"type": "webhook", "url": self.receiver.url("webhook"), "minIntervalMs": 0}

    def count(self) -> int:
        return len(self.receiver.of("webhook"))

    def arrivals(self) -> list[tuple[str, float, float]]:
        return [(a["kind"], r.at, a["eventAt"] / 1000) for r in self.receiver.of("webhook")
                for a in r.json["alerts"]]

    def stop(self) -> None:
        self.receiver.stop()


class _Email:
    def __init__(self, tmp: Path) -> None:
        from tests.smtp_server import SmtpServer

        self.server = SmtpServer(tmp, mode="starttls", auth=True).start()

    def channel(self) -> dict[str, Any]:
        return {"type": "email", "to": ["oncall@example.com"], "from": "bench@example.com",
                "url": self.server.url(auth=True), "caFile": str(self.server.cert)}

    def count(self) -> int:
        return len(self.server.received())

    def arrivals(self) -> list[tuple[str, float, float]]:
        words = {"FIRING": "firing", "RECOVERED": "recovered"}
        return [(words.get(m.message["Subject"][1:].split("]")[0], "other"), m.at,
                 int(m.message["X-Soulfra-Event-At"]) / 1000) for m in self.server.received()]

    def stop(self) -> None:
        self.server.stop()


def main(rounds: int = 10, window_ms: float = 0, sink_name: str = "webhook") -> None:
    sock = _listen()
    port = sock.getsockname()[1]
    cfg = services_file({"svc": {"checks": [{"type": "tcp", "port": port}], "interval": 300,
                                 "errorThreshold": 1, "autoRestart": False}})
    with tempfile.TemporaryDirectory() as tmp:
        sink = _Email(Path(tmp)) if sink_name == "email" else _Webhook()
        cfg["errorMonitoring"]["alerts"] = {
            "fireOn": "failing", "groupWindowMs": window_ms, "flapMaxMessages": 10_000,
            "channels": [sink.channel()]}
        d = DaemonProcess(Path(tmp), cfg, env={"AUTO_RECOVERY_ENABLED": "false"}).start()
        try:
            wait_for(lambda: d.state("svc") == "healthy", what="healthy")
            for _ in range(rounds):
                sock.close()
                n = sink.count()
                wait_for(lambda n=n: sink.count() > n, what="firing")
                sock = _listen(port)
                n = sink.count()
                wait_for(lambda n=n: sink.count() > n, what="recovered")
        finally:
            d.stop()
            sock.close()
            lags: dict[str, list[float]] = {}
            for kind, arrived, event_at in sink.arrivals():
                lags.setdefault(kind, []).append((arrived - event_at) * 1000)
            sink.stop()
    print(f"{sink_name}, groupWindowMs={window_ms:g}, {rounds} rounds")
    for kind, values in lags.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(f"  {kind:<10} n={len(values):<3} median {statistics.median(values):6.1f} ms  "
              f"p90 {p90:6.1f} ms  max {max(values):6.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10,
         float(sys.argv[2]) if len(sys.argv) > 2 else 0,
         sys.argv[3] if len(sys.argv) > 3 else "webhook")
