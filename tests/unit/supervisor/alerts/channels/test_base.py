"""How every channel reads the platform's answers (2xx, 429 with a wait, 5xx, 4xx) from a local
receiver."""

from __future__ import annotations

from tests.support.alert_receiver import Receiver
from tests.support.alerts import big_alert


async def test_platform_answers_are_read_as_documented(receiver: Receiver, channel) -> None:
    slack = channel("slack", receiver.url("slack"))
    discord = channel("discord", receiver.url("discord"))
    a = [big_alert()]
    receiver.plan("slack", (429, {"Retry-After": "2"}, "rate_limited"))
    answer = await slack.send(a)
    assert (answer.ok, answer.status, answer.retry_after, answer.permanent) == \
        (False, 429, 2.0, False)
    # blocks refused: the words still go out, as plain text
    receiver.plan("slack", (400, {}, "invalid_blocks"))
    answer = await slack.send(a)
    assert answer.ok and "plain text" in answer.detail
    last = receiver.of("slack")[-1].json
    assert set(last) == {"text"} and "payments-api-0" in last["text"]
    receiver.plan("slack", (404, {}, "no_service"))
    answer = await slack.send(a)
    assert not answer.ok and answer.permanent and "no_service" in answer.describe()
    receiver.plan("discord", (429, {"Content-Type": "application/json"},
                              '{"message": "You are being rate limited.", "retry_after": 0.35,'
                              ' "global": false}'))
    answer = await discord.send(a)
    assert answer.retry_after == 0.35 and not answer.permanent
    receiver.plan("discord", (502, {}, "bad gateway"))
    answer = await discord.send(a)
    assert not answer.ok and not answer.permanent
    receiver.plan("discord", (400, {"Content-Type": "application/json"},
                              '{"code": 50035, "message": "Invalid Form Body"}'))
    answer = await discord.send(a)
    assert answer.permanent and "Invalid Form Body" in answer.describe()
    assert (await discord.send(a)).status == 204
    receiver.down()
    answer = await discord.send(a)
    assert answer.status is None and not answer.permanent
    assert "discordsecrettoken" not in answer.describe()
