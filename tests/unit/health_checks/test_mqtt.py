"""The mqtt check against a real mosquitto: round trip, broker killed, broker hung, healing."""

from __future__ import annotations

import os
import signal
import time

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report, time_until
from tests.support.helpers import free_port


def make(**cfg):
    cls = health_checks.registry.get("mqtt")
    return cls(cls.config_model.model_validate({"type": "mqtt", **cfg}), "bus")


async def test_round_trip_then_broker_killed_then_back(mosquitto_server):
    check = make(broker=f"mqtt://127.0.0.1:{mosquitto_server.port}", timeout=1000)
    try:
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.latency_ms > 0, r
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY and r.details["connects"] == 1, "connection kept"
        fault = time.monotonic()
        mosquitto_server.kill()
        took, r = await time_until(check, CheckKind.CONNECTION_LOST, since=fault)
        report("mqtt broker killed", took, r)
        assert took < 5
        mosquitto_server.start()
        took, r = await time_until(check, CheckKind.HEALTHY)
        report("mqtt broker back (healed)", took, r)
        assert r.details["connects"] == 2
    finally:
        await check.close()


async def test_a_stopped_broker_stalls(mosquitto_server):
    check = make(broker=f"mqtt://127.0.0.1:{mosquitto_server.port}", timeout=500)
    try:
        assert (await check.run()).kind is CheckKind.HEALTHY
        os.kill(mosquitto_server.pid, signal.SIGSTOP)
        try:
            fault = time.monotonic()
            took, r = await time_until(check, CheckKind.STALLED, since=fault)
            report("mqtt broker SIGSTOP (hang)", took, r)
            assert 0.4 < took < 3
        finally:
            os.kill(mosquitto_server.pid, signal.SIGCONT)
        took, r = await time_until(check, CheckKind.HEALTHY)
    finally:
        await check.close()


async def test_no_broker_is_connection_lost():
    check = make(broker=f"mqtt://127.0.0.1:{free_port()}", timeout=500)
    r = await check.run()
    assert r.kind is CheckKind.CONNECTION_LOST and "cannot connect" in r.message
    await check.close()
