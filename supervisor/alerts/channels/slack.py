"""Slack incoming webhooks: an attachment with a colour bar holding Block Kit blocks, and a
plain `text` fallback for notifications and old clients.

Slack's limits (api.slack.com/reference/block-kit): 50 blocks per message, 3000 characters
per section text, 10 fields of 2000, header text 150. Answers: `ok` (200), 429 with
Retry-After, 400 `invalid_blocks`/`invalid_payload`, 403/404/410 for a dead hook.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert, clip, rank

MAX_BLOCKS = 50
SECTION_CHARS = 3000
FIELD_CHARS = 2000
HEADER_CHARS = 150
TEXT_CHARS = 4000  # Slack truncates longer `text`; a notification shows far less anyway
BLOCKS_REJECTED = ("invalid_blocks", "invalid_attachments", "invalid_payload")


class SlackConfig(ChannelConfig):
    type: Literal["slack"] = "slack"
    mention: str = Field("", description="Put in front of critical alerts, e.g. <!here>.")


def esc(text: str) -> str:
    """Slack mrkdwn treats &, < and > as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@registry.register("slack")
class SlackChannel(Channel):
    type_name: ClassVar[str] = "slack"
    config_model: ClassVar[type[ChannelConfig]] = SlackConfig
    default_interval_ms: ClassVar[float] = 1000.0  # Slack allows about one message a second

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        worst = max(alerts, key=lambda a: (rank(a.severity), a.kind == "gave_up"))
        blocks = self._one(alerts[0]) if len(alerts) == 1 else self._many(alerts)
        text = "\n\n".join(a.plain_text() for a in alerts)
        mention = getattr(self.config, "mention", "")
        if mention and worst.severity == "critical":
            text = f"{mention} {text}"
        return {"text": clip(text, TEXT_CHARS),
                "attachments": [{"color": f"#{worst.colour:06x}",
                                 "blocks": blocks[:MAX_BLOCKS]}]}

    def _one(self, a: Alert) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "text": clip(a.title, HEADER_CHARS),
                                        "emoji": True}}]
        if a.detail:
            blocks.append(_section(esc(a.detail)))
        fields = [{"type": "mrkdwn", "text": clip(f"*{k}*\n{esc(v)}", FIELD_CHARS)}
                  for k, v in a.facts()[:10]]
        if fields:
            blocks.append({"type": "section", "fields": fields})
        rec = a.recovery_lines()
        if rec:
            blocks.append(_section("*Recovery*\n" + "\n".join(f"• {esc(r)}" for r in rec)))
        blocks.append(_context(a))
        buttons = []
        if a.link:
            buttons.append({"type": "button", "url": clip(a.link, 3000),
                            "text": {"type": "plain_text", "text": "Open in dashboard"}})
        if a.ack_link and len(a.ack_link) <= 3000:
            buttons.append({"type": "button", "url": a.ack_link, "style": "primary",
                            "text": {"type": "plain_text", "text": "Acknowledge"}})
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
        return blocks

    def _many(self, alerts: list[Alert]) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [
            {"type": "header", "text": {"type": "plain_text", "emoji": True, "text": clip(
                f"{len(alerts)} alerts: " + ", ".join(sorted({a.service for a in alerts})),
                HEADER_CHARS)}}]
        for a in alerts:  # two blocks each; ten alerts stay far below 50 blocks
            lines = [f"*{esc(a.title)}*"]
            if a.detail:
                lines.append(esc(a.detail))
            lines.append(" · ".join(f"{k}: {esc(v)}" for k, v in a.facts()
                                    if k not in ("Service",)))
            rec = a.recovery_lines()
            if rec:
                lines.append("Recovery: " + esc("; ".join(rec)))
            if a.link:
                lines.append(f"<{a.link}|Open in dashboard>")
            if a.ack_link:
                lines.append(f"<{a.ack_link}|Acknowledge>")
            blocks.append(_section("\n".join(lines)))
            blocks.append(_context(a))
        return blocks

    def read_answer(self, status: int, headers: dict[str, str], text: str) -> Answer:
        answer = super().read_answer(status, headers, text)
        if answer.ok and text.strip() not in ("", "ok"):
            # Slack itself answers "ok"; Slack-compatible servers (Mattermost, Rocket.Chat)
            # may say more. A 2xx is still accepted: retrying would post it twice.
            answer.detail = f"accepted with an unusual answer: {text.strip()[:100]}"
        return answer

    async def send(self, alerts: list[Alert]) -> Answer:
        answer = await super().send(alerts)
        if answer.status == 400 and any(w in answer.body for w in BLOCKS_REJECTED):
            # The blocks were refused; the words still matter more than the layout.
            text = "\n\n".join(a.plain_text() for a in alerts)
            plain = await self.post({"text": clip(text, TEXT_CHARS)}, alerts)
            if plain.ok:
                plain.detail = f"blocks refused ({answer.body.strip()[:80]}); sent as plain text"
            return plain
        return answer


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_CHARS)}}


def _context(a: Alert) -> dict[str, Any]:
    bits = [a.iso_time]
    if a.correlation_id:
        bits.insert(0, f"incident {a.correlation_id}")
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(bits)}]}
