"""The plain webhook channel: signed bodies and custom headers, checked by a local receiver."""

from __future__ import annotations

import hashlib
import hmac

from tests.support.alert_receiver import Receiver
from tests.support.alerts import big_alert


async def test_webhook_is_signed_with_custom_headers(receiver: Receiver, channel) -> None:
    ch = channel("webhook", receiver.url("webhook"), secret="s3cret-key",
                 headers={"X-Api-Key": "key-123"})
    alert = big_alert()
    assert (await ch.send([alert])).ok
    got = receiver.of("webhook")[-1]
    expected = "sha256=" + hmac.new(b"s3cret-key", got.raw, hashlib.sha256).hexdigest()
    assert got.headers["X-Soulfra-Signature"] == expected
    assert got.headers["X-Api-Key"] == "key-123"
    assert got.headers["X-Soulfra-Delivery"] == alert.id
    body = got.json
    assert body["alerts"][0]["correlationId"] == "inc_big"
    assert body["alerts"][0]["downtimeMs"] == 93_000 and body["severity"] == "critical"
    assert b"s3cret-key" not in got.raw
