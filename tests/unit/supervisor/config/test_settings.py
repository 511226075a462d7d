"""Settings: the platform's environment variable names."""

from __future__ import annotations

from supervisor.config.loader import load_config
from supervisor.config.settings import Settings
from tests.support.helpers import ROOT


def test_environment_names_of_the_platform(monkeypatch):
    monkeypatch.setenv("HEALTH_CHECK_INTERVAL", "45000")
    monkeypatch.setenv("MAX_RECOVERY_ATTEMPTS", "7")
    monkeypatch.setenv("AUTO_RECOVERY_ENABLED", "false")
    monkeypatch.setenv("SOULFRA_PORT", "4555")
    s = Settings()
    assert (s.health_check_interval, s.max_recovery_attempts, s.auto_recovery_enabled,
            s.port) == (45000, 7, False, 4555)
    monkeypatch.setenv("SOULFRA_ERROR_RETENTION_DAYS", "9")
    assert Settings().error_retention_days == 9
    cfg = load_config(ROOT / "services.json", Settings())
    assert cfg.error_monitoring.recovery.max_attempts == 3, "the file's explicit value wins"
