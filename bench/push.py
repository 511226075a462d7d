"""Scenario 7 (soulfra-supervisor only): detection through push signals.

Time from a service's death (SIGKILL) to the daemon's `failing` state, read from its API every
10 ms: through an MQTT last-will (a real mosquitto on a free port publishes the will when the
client's connection drops) and through a missed HTTP heartbeat (period 1 s, grace 0.5 s: the
daemon must notice within period + grace of the last beat; the kill lands at a random point
between two beats). The peers have no such path.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import health_checks
from bench.faults import summarize
from bench.peers import Soulfra
from bench.procs import Reaper, free_port, http_get, wait_for

CLIENT = Path(__file__).resolve().parent / "push_client.py"
PERIOD_S, GRACE_S = 1.0, 0.5
WILL_TOPIC = "bench/will-svc/status"
UP = ("healthy", "degraded")


def available() -> bool:
    return "heartbeat" in health_checks.registry.names()


def _mosquitto() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _state(api: str, service: str) -> str | None:
    status, body = http_get(api + "/api/monitoring/health", timeout=1.0)
    if status in (200, 503) and isinstance(body, dict):
        return str(body["services"][service]["status"])
    return None


def _trial(reaper: Reaper, workdir: Path, api: str, service: str, argv: list[str],
           bound_s: float, phase_s: float) -> float | None:
    client = reaper.spawn(argv, workdir / f"{service}-client.log")
    try:
        wait_for(lambda: _state(api, service) in UP, 30, 0.05, f"{service} healthy")
        time.sleep(1.0 + random.uniform(0, phase_s))
        started = time.monotonic()
        os.kill(client.pid, signal.SIGKILL)
        while time.monotonic() - started < bound_s:
            if _state(api, service) not in UP:
                return time.monotonic() - started
            time.sleep(0.01)
        return None
    finally:
        reaper.stop(client)


def run(reaper: Reaper, workdir: Path, repeat: int, bound_s: float) -> dict[str, Any]:
    if not available():
        return {"not_measured": "this checkout has no heartbeat check type (issue 3)"}
    mosquitto = _mosquitto()
    if mosquitto is None:
        return {"not_measured": "mosquitto is not installed (bench/run installs it)"}
    workdir.mkdir(parents=True, exist_ok=True)
    broker_port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\n")
    broker = reaper.spawn([mosquitto, "-c", str(conf)], workdir / "mosquitto.log")
    peer = Soulfra(reaper, workdir)
    try:
        wait_for(lambda: _listening(broker_port), 10, 0.05, "mosquitto")
        common = {"interval": 2000, "timeoutThreshold": 2000, "errorThreshold": 1,
                  "autoRestart": False}
        services = {
            "will-svc": {**common, "checks": [{
                "type": "heartbeat", "period": 600000, "broker": f"mqtt://127.0.0.1:{broker_port}",
                "willTopic": WILL_TOPIC, "offlinePayload": "offline"}]},
            "beat-svc": {**common, "checks": [{
                "type": "heartbeat", "period": PERIOD_S * 1000, "grace": GRACE_S * 1000}]},
        }
        port = peer.run_services(services, {"AUTO_RECOVERY_ENABLED": "false"})
        api = f"http://127.0.0.1:{port}"
        py = sys.executable
        will_argv = [py, str(CLIENT), "--mode", "will", "--port", str(broker_port), "--topic",
                     WILL_TOPIC, "--tag", str(workdir)]
        beat_argv = [py, str(CLIENT), "--mode", "beat", "--url",
                     f"{api}/api/monitoring/heartbeat/beat-svc", "--period", str(PERIOD_S),
                     "--tag", str(workdir)]
        wills = [_trial(reaper, workdir, api, "will-svc", will_argv, bound_s, 0.5)
                 for _ in range(repeat)]
        beats = [_trial(reaper, workdir, api, "beat-svc", beat_argv, bound_s, PERIOD_S)
                 for _ in range(repeat)]
    finally:
        peer.stop()
        reaper.stop(broker)
    return {"mqtt_last_will": summarize(wills, True, bound_s),
            "heartbeat": {**summarize(beats, True, bound_s), "period_s": PERIOD_S,
                          "grace_s": GRACE_S}}
