"""Alert channels, one module per `type`: Slack, Discord, plain webhooks (and plugins).

`registry` maps a channel `type` in services.json to its class (plugins come from the
entry-point group `soulfra.alert_channels`); `base.Channel` is what every channel shares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from supervisor.core.registry import Registry

if TYPE_CHECKING:
    from supervisor.alerts.channels.base import Channel

registry: Registry[Channel] = Registry("alert channel", "supervisor.alerts.channels",
                                       "soulfra.alert_channels")
