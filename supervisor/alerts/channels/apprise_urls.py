"""The long tail of services through Apprise, one URL per channel: `ntfy://`, `tgram://`,
`pagerduty://`, `workflows://` (Microsoft Teams), `pover://`, `matrix://`, SMS gateways, ...

The title is the alert's title; the body its plain text. How Apprise's answer becomes
accepted / retry / permanent, and how the secret URL is kept out of every detail, is
supervisor/clients/apprise_send.py (shared with the phone channel).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert, clip, rank
from supervisor.clients.apprise_send import URL_PATTERN, AppriseSender, Outcome, check_url
from supervisor.clients.http import HttpClient

NOTIFY_TYPE = {"firing": "failure", "gave_up": "failure", "escalated": "failure",
               "reminder": "warning", "flapping": "warning",
               "recovered": "success", "self_healed": "success"}


def to_answer(outcome: Outcome, url: str) -> Answer:
    return Answer(outcome.ok, outcome.status, permanent=outcome.permanent,
                  detail=outcome.detail, latency_ms=outcome.latency_ms,
                  protocol=url.partition("://")[0])


class AppriseConfig(ChannelConfig):
    type: Literal["apprise"] = "apprise"
    url: SecretStr = Field(description="An Apprise URL (ntfy://, tgram://, pagerduty://, "
                                       "workflows://, pover://, matrix://, ...); a secret.",
                        json_schema_extra={"pattern": URL_PATTERN})
    format: Literal["text", "markdown"] = Field("text", description="How the body is sent.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:  # replaces the http:// check
        check_url(url.get_secret_value())
        return url


@registry.register("apprise")
class AppriseChannel(Channel):
    type_name: ClassVar[str] = "apprise"
    config_model: ClassVar[type[ChannelConfig]] = AppriseConfig

    def __init__(self, config: ChannelConfig, http: HttpClient) -> None:
        super().__init__(config, http)  # Apprise sends on its own, never through `http`
        self.sender = AppriseSender()

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        if len(alerts) == 1:
            a = alerts[0]
            title, body = a.title, a.plain_text().partition("\n")[2]
        else:
            title = f"{len(alerts)} alerts: " + ", ".join(sorted({a.service for a in alerts}))
            body = "\n\n".join(a.plain_text() for a in alerts)
        worst = max(alerts, key=lambda a: (rank(a.severity), a.kind == "gave_up"))
        return {"title": clip(title, 250), "body": clip(body or title, 4000),
                "notify_type": NOTIFY_TYPE.get(worst.kind, "info")}

    async def send(self, alerts: list[Alert]) -> Answer:
        assert self.config.url is not None
        url = self.config.url.get_secret_value()
        m = self.render(alerts)
        outcome = await self.sender.send(url, m["title"], m["body"], m["notify_type"],
                                         self.config.timeout / 1000,
                                         markdown=getattr(self.config, "format", "") ==
                                         "markdown")
        return to_answer(outcome, url)
