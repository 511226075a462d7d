"""The Slack channel against a local receiver that answers like Slack: payload limits, readable
text."""

from __future__ import annotations

from tests.support.alert_receiver import Receiver, slack_problems
from tests.support.alerts import big_alert


async def test_slack_payload_stays_within_limits_and_reads_well(receiver: Receiver,
                                                                channel) -> None:
    ch = channel("slack", receiver.url("slack"), mention="<!here>")
    for alerts in ([big_alert()], [big_alert(i, incident=f"inc_{i}") for i in range(10)]):
        answer = await ch.send(alerts)
        assert answer.ok, answer
        payload = receiver.of("slack")[-1].json
        assert slack_problems(payload) == []
        assert payload["text"].startswith("<!here> [FIRING] payments-api-0")
        assert payload["attachments"][0]["color"] == "#d32f2f"
    single = receiver.of("slack")[0].json["attachments"][0]["blocks"]
    assert single[0]["text"]["text"].endswith("…"), "a cut title says it was cut"
    assert "&lt;&amp;&gt;" in single[1]["text"]["text"], "mrkdwn control characters escaped"
    assert any(b["type"] == "actions" for b in single), "dashboard button with a public URL"
