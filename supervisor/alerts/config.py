"""`errorMonitoring.alerts` in services.json: channels, when to fire, grouping, retries,
silences and maintenance windows. The channel list is a discriminated union over the channel
registry, so a plugin channel validates like a built-in one."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from supervisor.alerts.channels import registry
from supervisor.alerts.digest import ReportSchedule
from supervisor.alerts.escalation import EscalationPolicy
from supervisor.alerts.silences import MaintenanceWindow, SilenceSpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class DeliveryPolicy(_Model):
    initial_delay: float = Field(1000, gt=0, alias="initialDelayMs",
                                 description="Wait after the first failed delivery (5xx, "
                                             "timeout); doubles each time.")
    max_delay: float = Field(300000, gt=0, alias="maxDelayMs")
    max_age: float = Field(86400000, gt=0, alias="maxAgeMs",
                           description="An alert not accepted by then is given up as failed.")


class AlertsBase(_Model):
    enabled: bool = True
    fire_on: Literal["first_attempt_failed", "failing"] = Field(
        "first_attempt_failed", alias="fireOn",
        description="first_attempt_failed: page only when automatic recovery did not fix it "
                    "at once (a silent self-heal pages nobody); failing: page when declared "
                    "failing.")
    fire_after: float = Field(60000, gt=0, alias="fireAfterMs",
                              description="Page anyway when still down this long without a "
                                          "failed recovery attempt to report.")
    group_window: float = Field(2000, ge=0, alias="groupWindowMs",
                                description="Changes within this window go out as one message.")
    reminder_interval: float | None = Field(None, gt=0, alias="reminderIntervalMs",
                                            description="Repeat while an incident stays down.")
    flap_window: float = Field(600000, gt=0, alias="flapWindowMs")
    flap_max_messages: int = Field(6, ge=1, alias="flapMaxMessages",
                                   description="Messages per service within flapWindowMs; "
                                               "beyond that one flapping notice, then quiet.")
    public_url: str | None = Field(None, alias="publicUrl",
                                   description="Where people open the dashboard; enables links.")
    link_template: str = Field("{publicUrl}/?service={service}&incident={incident}",
                               alias="linkTemplate")
    ack_link_ttl: float = Field(86400000, gt=0, alias="ackLinkTtlMs",
                                description="How long a message's acknowledgement link works.")
    escalation: list[EscalationPolicy] = Field(
        default_factory=list, description="Who hears about an unacknowledged incident when; "
                                          "the first policy matching its page owns it.")
    reports: list[ReportSchedule] = Field(default_factory=list,
                                          description="Summaries sent to channels on a cron.")
    delivery: DeliveryPolicy = Field(default_factory=DeliveryPolicy)
    silences: list[SilenceSpec] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)


ENV_NAMES = re.compile(r"^(default|email|phone(-\d+)?)$")  # channels the environment can add


def _known_channels(model: Any) -> Any:
    """Escalation steps name channels that exist (or that the environment provides)."""
    names = {c.name or c.type for c in model.channels}
    for i, policy in enumerate(model.escalation):
        for j, step in enumerate(policy.steps):
            for name in step.channels:
                if name not in names and not ENV_NAMES.match(name):
                    raise ValueError(f"escalation[{i}].steps[{j}].channels: no channel "
                                     f"{name!r}; known: {', '.join(sorted(names)) or 'none'}")
    for i, report in enumerate(model.reports):
        for name in report.channels:
            if name not in names and not ENV_NAMES.match(name):
                raise ValueError(f"reports[{i}].channels: no channel {name!r}; known: "
                                 f"{', '.join(sorted(names)) or 'none'}")
    return model


def _unique_names(cls: Any, channels: list[Any]) -> list[Any]:
    seen: dict[str, int] = {}
    for i, ch in enumerate(channels):
        name = ch.name or ch.type
        if name in seen:
            raise ValueError(f"[{i}] name {name!r} is already used by channels[{seen[name]}]; "
                             "give each channel its own name")
        seen[name] = i
    return channels


@cache
def alerts_model() -> type[AlertsBase]:
    """AlertsConfig with `channels` typed from what the channel registry holds now."""
    classes = [c.config_model for c in registry.items().values()]
    union = Annotated[Union[tuple(classes)], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007, E501
    return create_model(
        "AlertsConfig", __base__=AlertsBase,
        channels=(list[union], Field(default_factory=list)),  # type: ignore[valid-type]
        __validators__={"_names": field_validator("channels")(_unique_names),
                        # pydantic's stubs type this entry narrower than create_model accepts
                        "_known": model_validator(mode="after")(  # type: ignore[dict-item]
                            _known_channels)})


def channel_kinds() -> list[str]:
    return registry.names()


def infer_kind(url: str) -> str:
    """slack / discord / webhook from an ERROR_WEBHOOK_URL, the way each platform shapes it."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host.endswith("hooks.slack.com") or host.endswith("hooks.slack-gov.com") or \
            parts.path.startswith("/services/T"):
        return "slack"
    if "/api/webhooks/" in parts.path and (host.endswith(("discord.com", "discordapp.com"))
                                           or parts.path.startswith("/api/webhooks/")):
        return "discord"
    return "webhook"
