"""A phone number for critical alerts (CRITICAL_ERROR_PHONE), through the SMS or call provider
the operator names as an Apprise URL template: `twilio://SID:TOKEN@+15550000/{phone}`,
`vonage://KEY:SECRET@+15550000/{phone}`, `sinch://...`, or any other Apprise SMS service.

Only what a human must act on: critical alerts, and of those only "firing" and "gave up"
(never reminders or recoveries), each as one short text; at most `maxPerHour` per number, so a
bad night cannot become a storm of calls. A message over the limit is recorded, not sent.
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert, clip
from supervisor.clients.apprise_send import URL_PATTERN, AppriseSender, check_url
from supervisor.clients.http import HttpClient
from supervisor.core.taxonomy import Severity

NUMBER = re.compile(r"^\+?[0-9]{6,15}$")
SEPARATORS = r"[\s().-]"  # dropped before NUMBER is matched
# NUMBER with the separators still in it, for services.schema.json
NUMBER_PATTERN = rf"^{SEPARATORS}*\+?(?:{SEPARATORS}*[0-9]){{6,15}}{SEPARATORS}*$"
PAGES = ("firing", "gave_up", "escalated", "test")
SMS_CHARS = 320  # two SMS segments


def masked(number: str) -> str:
    return "…" + number[-4:]


class PhoneConfig(ChannelConfig):
    type: Literal["phone"] = "phone"
    url: SecretStr = Field(description="Apprise URL template with {phone}; a secret. Default: "
                                       "SOULFRA_PHONE_URL.",
                           json_schema_extra={"pattern": URL_PATTERN + r".*\{phone\}"})
    number: str = Field(description="E.164, e.g. +15551234567",
                        json_schema_extra={"pattern": NUMBER_PATTERN})
    # strict=False as in ChannelConfig: "high" in JSON is Severity.HIGH (strict refused it)
    min_severity: Severity = Field(Severity.CRITICAL, alias="minSeverity", strict=False)
    max_per_hour: int = Field(4, ge=1, le=60, alias="maxPerHour")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:  # replaces the Apprise check: a template
        if "{phone}" not in url.get_secret_value():
            raise ValueError("must contain {phone}, where the number goes")
        return url

    @field_validator("number")
    @classmethod
    def _number(cls, number: str) -> str:
        number = re.sub(SEPARATORS, "", number)
        if not NUMBER.match(number):
            raise ValueError("must be a phone number in E.164 form, e.g. +15551234567")
        return number

    @model_validator(mode="after")
    def _usable(self) -> PhoneConfig:
        check_url(self.url.get_secret_value().replace("{phone}", self.number))
        return self

    def wants(self, alert: Alert) -> bool:
        return alert.kind in PAGES and alert.severity == "critical" and super().wants(alert)


@registry.register("phone")
class PhoneChannel(Channel):
    type_name: ClassVar[str] = "phone"
    config_model: ClassVar[type[ChannelConfig]] = PhoneConfig

    def __init__(self, config: ChannelConfig, http: HttpClient) -> None:
        super().__init__(config, http)  # Apprise sends on its own, never through `http`
        self.sender = AppriseSender()
        self._sent: deque[float] = deque()

    @property
    def cfg(self) -> PhoneConfig:
        assert isinstance(self.config, PhoneConfig)
        return self.config

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        lines = [a.title for a in alerts]
        a = alerts[-1]
        if a.correlation_id:
            lines.append(f"incident {a.correlation_id}")
        if a.ack_link:
            lines.append(f"ack: {a.ack_link}")
        return {"body": clip("\n".join(lines), SMS_CHARS)}

    async def send(self, alerts: list[Alert]) -> Answer:
        now = time.monotonic()
        while self._sent and now - self._sent[0] > 3600:
            self._sent.popleft()
        if len(self._sent) >= self.cfg.max_per_hour and alerts[0].kind != "test":
            return Answer(True, detail=f"not sent to {masked(self.cfg.number)}: "
                                       f"{self.cfg.max_per_hour} messages within the last hour "
                                       "already (maxPerHour)")
        url = self.cfg.url.get_secret_value().replace("{phone}", self.cfg.number)
        outcome = await self.sender.send(url, "", self.render(alerts)["body"], "failure",
                                         self.cfg.timeout / 1000)
        if outcome.ok:
            self._sent.append(time.monotonic())
        return Answer(outcome.ok, outcome.status, permanent=outcome.permanent,
                      detail=outcome.detail, latency_ms=outcome.latency_ms,
                      protocol=url.partition("://")[0])
