"""Heartbeat check (dead man's switch): the service must push a sign of life every `period`.

Signs arrive by `POST /api/monitoring/heartbeat/{service}` (or `/start` … `/finish` around a
long job) or as MQTT messages on `topic`; a message on `willTopic` equal to `offlinePayload`
(the service's last will, published by the broker when its connection drops) fails it at once.
The deadline is watched by a timer on the board, so detection does not wait for this poll;
the poll keeps the state current and notices when beats come back.
"""

from __future__ import annotations

import time
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from health_checks import registry
from health_checks.base import CheckConfig, CheckEnv, CheckResult, HealthCheck
from supervisor.clients.mqtt import parse_broker
from supervisor.push.board import Expectation


class HeartbeatCheckConfig(CheckConfig):
    type: Literal["heartbeat"] = "heartbeat"
    period: float = Field(60000, gt=0, le=604_800_000,
                          description="ms between the beats a service sends.")
    grace: float | None = Field(None, ge=0, le=604_800_000,
                                description="ms of lateness tolerated beyond "
                                            "period. Default: half the period.")
    max_runtime: float | None = Field(None, gt=0, alias="maxRuntime",
                                      description="ms a job between /start and /finish may "
                                                  "run; longer is stalled.")
    broker: str | None = Field(None, description="mqtt://host:port for topic and willTopic.")
    topic: str | None = Field(None, description="MQTT topic the service publishes beats to "
                                                "(payload empty or a JSON object of counters).")
    will_topic: str | None = Field(None, alias="willTopic",
                                   description="The service's MQTT last-will topic.")
    offline_payload: str = Field("offline", alias="offlinePayload",
                                 description="The will's payload; any other payload on "
                                             "willTopic (e.g. 'online') counts as a beat.")

    @model_validator(mode="after")
    def _needs_broker(self) -> HeartbeatCheckConfig:
        if (self.topic or self.will_topic) and not self.broker:
            raise ValueError("topic and willTopic need broker (mqtt://host:port)")
        if self.broker:
            parse_broker(self.broker)
        return self

    @property
    def grace_ms(self) -> float:
        return self.grace if self.grace is not None else self.period / 2


@registry.register("heartbeat")
class HeartbeatCheck(HealthCheck):
    type_name: ClassVar[str] = "heartbeat"
    config_model: ClassVar[type[CheckConfig]] = HeartbeatCheckConfig
    config: HeartbeatCheckConfig
    sees_the_service: ClassVar[bool] = False

    def __init__(self, config: CheckConfig, service: str, env: CheckEnv | None = None) -> None:
        super().__init__(config, service, env)
        self._armed_at = time.monotonic()
        self._register()

    def _register(self) -> None:
        cfg = self.config
        self.env.heartbeats.expect(self.service, Expectation(
            check=self.name, period_s=cfg.period / 1000, grace_s=cfg.grace_ms / 1000,
            max_runtime_s=cfg.max_runtime / 1000 if cfg.max_runtime else None,
            broker=cfg.broker, topic=cfg.topic, will_topic=cfg.will_topic,
            offline_payload=cfg.offline_payload, armed_at=self._armed_at, owner=self))

    async def run(self) -> CheckResult:
        if self.service not in self.env.heartbeats.expected:
            # close() withdrew it (a reconnect step closes every check of a service) and the
            # scheduler runs this check again: watch again, from the same starting point.
            self._register()
        self.env.heartbeats.ensure_armed(self.service)
        return self.env.heartbeats.evaluate(self.service)

    async def close(self) -> None:
        self.env.heartbeats.forget(self.service, self)
        await super().close()
