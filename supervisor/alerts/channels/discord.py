"""Discord webhooks: one embed per alert (colour, ISO timestamp, fields), `content` only for
a mention.

Discord's limits (discord.com/developers/docs/resources/message#embed-object-embed-limits):
title 256, description 4096, 25 fields of name 256 / value 1024, footer 2048, 10 embeds, and
6000 characters over all embeds of a message; `content` 2000. Answers: 204 (or 200 with
?wait=true), 429 with JSON `retry_after` in seconds (fractional), 400 JSON for a bad body.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

from pydantic import Field

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert, clip

TITLE, DESCRIPTION, FIELDS, FIELD_NAME, FIELD_VALUE = 256, 4096, 25, 256, 1024
FOOTER, CONTENT, TOTAL, EMBEDS = 2048, 2000, 6000, 10


class DiscordConfig(ChannelConfig):
    type: Literal["discord"] = "discord"
    mention: str = Field("", description="Sent as `content` with critical alerts, "
                                         "e.g. @here or <@&ROLE_ID>.")
    username: str = Field("soulfra-supervisor", max_length=80)


@registry.register("discord")
class DiscordChannel(Channel):
    type_name: ClassVar[str] = "discord"
    config_model: ClassVar[type[ChannelConfig]] = DiscordConfig
    default_interval_ms: ClassVar[float] = 1000.0  # a webhook may post 5 per 2 s; stay below

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        alerts = alerts[:EMBEDS]
        budget = TOTAL // len(alerts) - 8  # every embed gets its share of the 6000
        payload: dict[str, Any] = {
            "username": getattr(self.config, "username", "soulfra-supervisor"),
            "embeds": [embed(a, budget) for a in alerts],
            "allowed_mentions": {"parse": ["everyone", "roles", "users"]},
        }
        mention = getattr(self.config, "mention", "")
        if mention and any(a.severity == "critical" for a in alerts):
            payload["content"] = clip(f"{mention} " + "; ".join(a.title for a in alerts),
                                      CONTENT)
        return payload

    def read_answer(self, status: int, headers: dict[str, str], text: str) -> Answer:
        answer = super().read_answer(status, headers, text)
        if status == 429:
            wait: float | None
            try:
                wait = float(json.loads(text).get("retry_after"))
            except (ValueError, TypeError, AttributeError):
                wait = answer.retry_after or _float(headers.get("X-RateLimit-Reset-After"))
            answer.retry_after = wait
        elif not answer.ok:
            try:
                err = json.loads(text)
                answer.detail = f"{err.get('message', '')} (code {err.get('code', '?')})"
            except (ValueError, AttributeError):
                pass
        return answer


def embed(a: Alert, budget: int = TOTAL) -> dict[str, Any]:
    """One alert as an embed within `budget` characters (title+description+fields+footer)."""
    title = clip(a.title, min(TITLE, max(40, budget // 6)))
    footer = clip(f"incident {a.correlation_id}" if a.correlation_id else "soulfra-supervisor",
                  FOOTER)
    left = budget - len(title) - len(footer)
    fields: list[dict[str, Any]] = []
    for name, value in a.facts()[:FIELDS - 1]:
        name, value = clip(name, FIELD_NAME), clip(value, min(FIELD_VALUE, 300))
        if left - len(name) - len(value) < 200:
            break
        left -= len(name) + len(value)
        fields.append({"name": name, "value": value, "inline": True})
    rec = a.recovery_lines()
    if rec and left > 260:
        value = clip("\n".join(f"• {r}" for r in rec), min(FIELD_VALUE, left - 200))
        fields.append({"name": "Recovery", "value": value, "inline": False})
        left -= len("Recovery") + len(value)
    ack = f"[I'm on it: acknowledge]({a.ack_link})" if a.ack_link else ""
    if ack and len(ack) <= FIELD_VALUE and left - len(ack) > 220 and len(fields) < FIELDS:
        fields.append({"name": "Acknowledge", "value": ack, "inline": False})
        left -= len("Acknowledge") + len(ack)
    description = clip(a.detail or a.summary, max(1, min(DESCRIPTION, left)))
    out: dict[str, Any] = {"title": title, "description": description, "color": a.colour,
                           "timestamp": a.iso_time, "fields": fields,
                           "footer": {"text": footer}}
    if a.link:
        out["url"] = a.link
    return out


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
