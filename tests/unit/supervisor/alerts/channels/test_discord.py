"""The Discord channel against a local receiver that answers like Discord: payload limits."""

from __future__ import annotations

from tests.support.alert_receiver import Receiver, discord_problems
from tests.support.alerts import big_alert


async def test_discord_payload_stays_within_limits(receiver: Receiver, channel) -> None:
    ch = channel("discord", receiver.url("discord"), mention="@here")
    for alerts in ([big_alert()], [big_alert(i, incident=f"inc_{i}") for i in range(10)]):
        assert (await ch.send(alerts)).ok
        payload = receiver.of("discord")[-1].json
        assert discord_problems(payload) == []
        assert payload["content"].startswith("@here")
        assert len(payload["embeds"]) == len(alerts)
    embed = receiver.of("discord")[0].json["embeds"][0]
    assert embed["color"] == 0xD32F2F and embed["title"].endswith("…")
    names = [f["name"] for f in embed["fields"]]
    assert names[:3] == ["Service", "State", "Severity"] and "Recovery" in names
