"""Alert config: the channel kind inferred from the URL, errors that name the field."""

from __future__ import annotations

import pytest

from supervisor.alerts.config import infer_kind


def test_kind_is_inferred_from_the_url() -> None:
    assert infer_kind("https://hooks.slack.com/services/T1/B2/abc") == "slack"
    assert infer_kind("https://discord.com/api/webhooks/1/abc") == "discord"
    assert infer_kind("https://discordapp.com/api/webhooks/1/abc") == "discord"
    assert infer_kind("https://example.com/alerts") == "webhook"


def test_alerts_config_errors_name_the_field() -> None:
    from supervisor.config.loader import parse_config
    from supervisor.config.services import ConfigError

    bad = {"errorMonitoring": {"services": {}, "alerts": {
        "fireOn": "sometimes",
        "channels": [{"type": "slack", "url": "hooks.slack.com/x"},
                     {"type": "discord", "url": "https://discord.com/api/webhooks/1/a",
                      "minSeverity": "urgent"},
                     {"type": "teams", "url": "https://example.com"}],
        "silences": [{"matchers": {"service": "a"}, "start": "2026-01-02T00:00:00Z",
                      "end": "2026-01-01T00:00:00Z"}]}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(bad)
    text = "\n".join(exc.value.problems)
    assert "errorMonitoring.alerts.fireOn" in text
    assert "errorMonitoring.alerts.channels[0].url: must be an http:// or https:// URL" in text
    assert "errorMonitoring.alerts.channels[1].minSeverity" in text
    assert "errorMonitoring.alerts.channels[2]: unknown type 'teams'" in text
    assert "errorMonitoring.alerts.silences[0]: end must be after start" in text
    dup = {"errorMonitoring": {"services": {}, "alerts": {"channels": [
        {"type": "webhook", "url": "http://127.0.0.1:1/a"},
        {"type": "webhook", "url": "http://127.0.0.1:1/b"}]}}}
    with pytest.raises(ConfigError) as exc:
        parse_config(dup)
    assert "already used by channels[0]" in exc.value.problems[0]
