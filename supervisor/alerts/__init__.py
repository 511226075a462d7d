"""Alerts: Slack, Discord and plain webhooks, fed by the event bus through a durable outbox.

`registry` maps a channel `type` in services.json to its class (slack, discord, webhook, and
plugins from the entry-point group `soulfra.alert_channels`). The path of an alert:
events → lifecycle.Alerter (incidents, dedup, grouping, silences) → outbox (SQLite) →
delivery.Deliverer (one per channel: pacing, retries) → the channel module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.registry import Registry

if TYPE_CHECKING:
    from supervisor.alerts.channel import Channel

registry: Registry[Channel] = Registry("alert channel", "supervisor.alerts",
                                       "soulfra.alert_channels")
