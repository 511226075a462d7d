"""Time from a state change to the alert arriving at a webhook, through the real daemon.

    .venv/bin/python -m bench.alert_latency [ROUNDS] [GROUP_WINDOW_MS]

A tcp-checked service fails (its listener closes) and recovers (it reopens), ROUNDS times,
with automatic recovery off and `fireOn: failing`, so every change makes one message. The
latency is the receiver's arrival time minus the `eventAt` of the state change in the
payload. The check interval (300 ms) is not part of it: it starts at the state change.
"""

from __future__ import annotations

import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.alert_receiver import Receiver
from tests.helpers import DaemonProcess, services_file, wait_for


def _listen(port: int = 0) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    return s


def main(rounds: int = 10, window_ms: float = 0) -> None:
    receiver = Receiver().start()
    sock = _listen()
    port = sock.getsockname()[1]
    cfg = services_file({"svc": {"checks": [{"type": "tcp", "port": port}], "interval": 300,
                                 "errorThreshold": 1, "autoRestart": False}})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": window_ms, "flapMaxMessages": 10_000,
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    with tempfile.TemporaryDirectory() as tmp:
        d = DaemonProcess(Path(tmp), cfg, env={"AUTO_RECOVERY_ENABLED": "false"}).start()
        try:
            wait_for(lambda: d.state("svc") == "healthy", what="healthy")
            for _ in range(rounds):
                sock.close()
                n = len(receiver.of("webhook"))
                wait_for(lambda: len(receiver.of("webhook")) > n, what="firing")
                sock = _listen(port)
                n = len(receiver.of("webhook"))
                wait_for(lambda: len(receiver.of("webhook")) > n, what="recovered")
        finally:
            d.stop()
            sock.close()
    lags: dict[str, list[float]] = {}
    for r in receiver.of("webhook"):
        for a in r.json["alerts"]:
            lags.setdefault(a["kind"], []).append((r.at - a["eventAt"] / 1000) * 1000)
    receiver.stop()
    print(f"groupWindowMs={window_ms:g}, {rounds} rounds")
    for kind, values in lags.items():
        values.sort()
        p90 = values[min(len(values) - 1, int(len(values) * 0.9))]
        print(f"  {kind:<10} n={len(values):<3} median {statistics.median(values):6.1f} ms  "
              f"p90 {p90:6.1f} ms  max {max(values):6.1f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10,
         float(sys.argv[2]) if len(sys.argv) > 2 else 0)
