"""Any URL as plain JSON: the alerts of a batch with their incident, optionally signed.

The signature is `sha256=<hex HMAC-SHA256 of the raw body>` with the configured secret, in
`X-Soulfra-Signature` (name configurable), next to `X-Soulfra-Timestamp`. A receiver that
wants exactly-once can de-duplicate on `X-Soulfra-Delivery`: the alert's id, and for a batch an
id of the same form made from the batch's alert ids, so the same batch retried carries the same
value (each alert's own id is in the body's `alerts[].id`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import Channel, ChannelConfig
from supervisor.alerts.message import Alert, rank


class WebhookConfig(ChannelConfig):
    type: Literal["webhook"] = "webhook"
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for the signature.")
    signature_header: str = Field("X-Soulfra-Signature", alias="signatureHeader")
    headers: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="Extra request headers (e.g. an API "
                                                      "key); treated as secrets.")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_id(alerts: list[Alert]) -> str:
    """The alert's id; for a batch an alert-shaped id that only its alerts' ids decide."""
    if len(alerts) == 1:
        return alerts[0].id
    ids = ",".join(sorted(a.id for a in alerts))
    return "AL_" + hashlib.sha256(ids.encode()).hexdigest()[:10]


@registry.register("webhook")
class WebhookChannel(Channel):
    type_name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[ChannelConfig]] = WebhookConfig

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        worst = max(alerts, key=lambda a: rank(a.severity))
        return {"version": 1, "source": "soulfra-supervisor", "severity": worst.severity,
                "text": "\n\n".join(a.plain_text() for a in alerts),
                "alerts": [_api(a) for a in alerts]}

    def headers(self, body: bytes, alerts: list[Alert]) -> dict[str, str]:
        cfg = self.config
        assert isinstance(cfg, WebhookConfig)
        out = {k: v.get_secret_value() for k, v in cfg.headers.items()}
        out["X-Soulfra-Delivery"] = delivery_id(alerts)
        out["X-Soulfra-Timestamp"] = str(int(time.time()))
        if cfg.secret is not None:
            out[cfg.signature_header] = signature(cfg.secret.get_secret_value(), body)
        return out


def _api(a: Alert) -> dict[str, Any]:
    """An alert in the API's camelCase, times in ms like the rest of the API."""
    return {"id": a.id, "kind": a.kind, "service": a.service, "severity": a.severity,
            "title": a.title, "summary": a.summary, "correlationId": a.correlation_id,
            "state": a.state, "category": a.category, "type": a.error_type, "check": a.check,
            "detail": a.detail, "recovery": a.recovery, "outcome": a.outcome,
            "downtimeMs": a.downtime_ms, "fixedBy": a.fixed_by, "affected": a.affected,
            "link": a.link or None, "ackLink": a.ack_link or None,
            "timestamp": round(a.at * 1000),
            "eventAt": round(a.event_at * 1000) if a.event_at else None}
