"""The failover strategy alone: a retained MQTT topic on a real broker (skipping unhealthy
backends) and a file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiomqtt

import recovery_strategies
from recovery_strategies.base import RecoveryContext
from supervisor.clients.http import HttpClient
from supervisor.clients.redis import RedisConnections
from supervisor.processes.manager import ProcessManager


def _failover(target: dict, states: dict[str, str]):
    """A failover step run in-process against a real target; states says who is healthy."""
    cls = recovery_strategies.registry.get("failover")
    step = cls(cls.config_model.model_validate({
        "strategy": "failover", **target,
        "backends": [{"name": "main", "value": "main:1", "service": "main"},
                     {"name": "spare", "value": "spare:1", "service": "spare"},
                     {"name": "spare2", "value": "spare2:1"}]}), "main")
    ctx = RecoveryContext(service="main", correlation_id="", processes=ProcessManager(
        Path("/nonexistent"), lambda *_: None), http=HttpClient(), state_of=states.get,
        redis=RedisConnections())
    return step, ctx


async def test_failover_to_a_retained_mqtt_topic_skips_unhealthy_backends(mosquitto_server):
    states = {"main": "failing", "spare": "failing"}
    step, ctx = _failover({"mqttUrl": f"mqtt://127.0.0.1:{mosquitto_server.port}",
                           "topic": "platform/active"}, states)

    async def retained() -> str:
        async with aiomqtt.Client("127.0.0.1", mosquitto_server.port) as client:
            await client.subscribe("platform/active")
            async for message in client.messages:
                return bytes(message.payload).decode()
        return ""

    dry = await step.run(dataclasses.replace(ctx, dry_run=True))
    assert dry.ok and "main -> spare2" in dry.message
    outcome = await step.run(ctx)
    assert outcome.ok and "main -> spare2" in outcome.message, "spare is failing: skipped"
    assert await retained() == "spare2:1"
    states["main"] = "healthy"
    back = await step.on_healthy(ctx)
    assert back is not None and back.ok and "spare2 -> main" in back.message
    assert await retained() == "main:1"
    assert await step.on_healthy(ctx) is None, "already on the primary: nothing to do"


async def test_failover_to_a_file(tmp_path):
    active = tmp_path / "active-backend"
    step, ctx = _failover({"file": str(active)}, {"spare": "healthy"})
    assert (await step.run(ctx)).ok and active.read_text().strip() == "spare:1"
    assert (await step.run(ctx)).ok and active.read_text().strip() == "spare2:1"
    back = await step.on_healthy(ctx)
    assert back is not None and back.ok and active.read_text().strip() == "main:1"
