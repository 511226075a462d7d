"""The plain webhook channel: signed bodies and custom headers, checked by a local receiver."""

from __future__ import annotations

import hashlib
import hmac
import re

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


async def test_a_batch_delivery_id_is_alert_shaped_and_stable(receiver: Receiver,
                                                              channel) -> None:
    ch = channel("webhook", receiver.url("webhook"))
    batch = [big_alert(i, incident=f"inc_{i}") for i in range(3)]
    assert (await ch.send(batch)).ok
    assert (await ch.send(list(reversed(batch)))).ok  # the same batch, retried
    first, again = (r.headers["X-Soulfra-Delivery"] for r in receiver.of("webhook")[-2:])
    assert re.fullmatch(r"AL_[0-9a-f]{10}", first), first
    assert first == again and first not in {a.id for a in batch}
    assert (await ch.send(batch[:2])).ok  # another batch: another id
    assert receiver.of("webhook")[-1].headers["X-Soulfra-Delivery"] != first
