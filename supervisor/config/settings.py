"""Settings from the environment: the platform's variable names, and SOULFRA_* for the rest."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    """Accept the platform's name as written and with the SOULFRA_ prefix."""
    return AliasChoices(name, f"SOULFRA_{name}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOULFRA_", extra="ignore",
                                      populate_by_name=True)

    # The platform's names (SPEC §5).
    error_monitoring_enabled: bool = Field(True, validation_alias=_env("ERROR_MONITORING_ENABLED"))
    error_log_level: str = Field("info", validation_alias=_env("ERROR_LOG_LEVEL"))
    auto_recovery_enabled: bool = Field(True, validation_alias=_env("AUTO_RECOVERY_ENABLED"))
    health_check_interval: float = Field(30000, gt=0,
                                         validation_alias=_env("HEALTH_CHECK_INTERVAL"),
                                         description="Default check interval in ms.")
    max_recovery_attempts: int = Field(3, ge=1, validation_alias=_env("MAX_RECOVERY_ATTEMPTS"))
    error_webhook_url: SecretStr | None = Field(None, validation_alias=_env("ERROR_WEBHOOK_URL"))
    error_webhook_kind: Literal["auto", "slack", "discord", "webhook"] = Field(
        "auto", validation_alias=_env("ERROR_WEBHOOK_KIND"),
        description="Format for ERROR_WEBHOOK_URL; auto infers it from the URL.")
    monitoring_overhead_limit: float = Field(
        5, gt=0, validation_alias=_env("MONITORING_OVERHEAD_LIMIT"),
        description="Percent of one core the daemon may use; over it, the intervals of "
                    "non-critical services are stretched (docs/operations.md).")
    error_retention_days: int = Field(7, ge=1, validation_alias=_env("ERROR_RETENTION_DAYS"))
    health_report_frequency: float = Field(3600000, gt=0,
                                           validation_alias=_env("HEALTH_REPORT_FREQUENCY"))
    error_email: str | None = Field(None, validation_alias=_env("ERROR_EMAIL"),
                                    description="Alert mail recipients, comma-separated "
                                                "(with SOULFRA_SMTP_URL).")
    critical_error_phone: str | None = Field(None, validation_alias=_env("CRITICAL_ERROR_PHONE"),
                                             description="Numbers for critical alerts, "
                                                         "comma-separated (with "
                                                         "SOULFRA_PHONE_URL).")

    # Reaching people beyond chat (docs/alerts.md).
    smtp_url: SecretStr | None = Field(None, description="smtp://user:password@host:port for "
                                       "ERROR_EMAIL and email channels without a url.")
    phone_url: SecretStr | None = Field(None, description="Apprise URL template with {phone}, "
                                        "e.g. twilio://SID:TOKEN@+15550000/{phone}.")
    phone_max_per_hour: int = Field(4, ge=1, description="Messages per number per hour.")

    # Our own, as SOULFRA_<NAME>.
    config: Path = Path("services.json")
    host: str = "127.0.0.1"
    port: int = Field(3001, ge=0, le=65535)
    data_dir: Path = Path("data")
    api_token: SecretStr | None = None
    max_concurrent_checks: int = Field(200, ge=1)
    event_loop: Literal["auto", "asyncio", "uvloop"] = Field(
        "auto", description="auto: uvloop when installed (a dependency on Linux: about half the "
                            "CPU per check, docs/benchmarks.md), else asyncio's own loop.")
    log_format: Literal["auto", "json", "text"] = "auto"
    uptime_window_hours: float = Field(24, gt=0)
    lock_redis_url: SecretStr | None = Field(
        None, description="Redis for recovery leases only (older name; "
                          "SOULFRA_CLUSTER_REDIS_URL does this and more).")

    # Several hosts, one watchdog (docs/cluster.md, SPEC §5 "Several hosts").
    node_name: str = Field(default_factory=socket.gethostname, min_length=1, max_length=100,
                           pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                           description="This host's name in the cluster (default: the host "
                                       "name).")
    cluster_redis_url: SecretStr | None = Field(
        None, description="redis:// URL shared by every node: membership, recovery leases with "
                          "fencing tokens, one alert per incident. Unset: standalone.")
    store_url: SecretStr | None = Field(
        None, description="postgresql:// URL: every node's errors, recoveries, transitions and "
                          "alerts in one database. Unset: the local SQLite file only.")
    cluster_ttl_s: float = Field(15, ge=1, le=600, description="Seconds a node's membership "
                                 "lives without renewal; a node silent this long is lapsed.")
    events_mqtt_url: SecretStr | None = Field(
        None, description="mqtt://[user:password@]host:port: every state change published "
                          "retained to soulfra/<node>/<service>/state, and soulfra/<node>/status "
                          "online (offline by the broker, as this node's last will).")

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith(("postgresql://",
                                                                   "postgres://")):
            raise ValueError("use a postgresql://user:password@host:port/database URL")
        return v

    @property
    def cluster_mode(self) -> bool:
        return self.cluster_redis_url is not None

    # Errors, reports and the daemon's self-watch (docs/errors.md).
    summary_retention_days: int = Field(30, ge=1, description="Hourly error summaries kept.")
    retention_interval_s: float = Field(3600, gt=0, description="How often old rows are pruned.")
    report_window_hours: float = Field(24, gt=0, description="Period a health report covers.")
    reports_keep: int = Field(48, ge=1)
    loop_lag_threshold_ms: float = Field(1000, gt=0,
                                         description="Event-loop lag reported as an error.")
    scheduler_stall_grace_s: float = Field(10, ge=0, description="Slack before a scheduler "
                                           "without progress is reported.")
    overhead_sample_s: float = Field(5.0, gt=0, description="Seconds between readings of the "
                                     "daemon's CPU share for MONITORING_OVERHEAD_LIMIT.")
    store_max_pending: int = Field(10_000, ge=100,
                                   description="Errors queued for the store before shedding.")
    series_resolution_s: int = Field(60, ge=1, le=3600, description="Seconds per row of the "
                                     "check rollups behind the charts (finer only for demos "
                                     "and tests: rows are kept 48 h).")
    fault_injection: bool = Field(False, description="Enable /api/monitoring/debug/faults.")
    log_levels: str = Field("", description="Per-module levels: 'aiohttp=warning,supervisor."
                                            "scheduler=debug'.")
    log_file: Path | None = None
    log_rotation: str = "50 MB"
    log_retention: str = "7 days"

    # Errors the services report with Sentry SDKs or JSON (docs/error-reporting.md).
    ingest_public_url: str | None = Field(None, description="Base URL services reach the "
                                          "daemon at, for DSNs (default: the API's address).")
    ingest_cors_origins: str = Field("", description="Comma-separated origins whose browser "
                                     "SDKs may send errors ('*' for any).")
    ingest_rate_limit: float = Field(50, gt=0, description="Events per second accepted per "
                                     "service (sustained).")
    ingest_burst: int = Field(500, ge=1, description="Events per service accepted at once "
                              "above the rate.")
    ingest_sample_first: int = Field(20, ge=1, description="Events of a group stored in full "
                                     "before sampling; counts stay exact.")
    ingest_sample_every_s: float = Field(10, gt=0, description="After those, one event of a "
                                         "group stored every this many seconds.")
    ingest_spike_per_minute: int = Field(100, ge=1, description="A service reporting this "
                                         "many errors within a minute is alerted as a spike.")
    ingest_slow_query_ms: float = Field(50, gt=0, description="Database spans of SDK "
                                        "transactions at least this slow are slow queries.")
    ingest_max_body_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    ingest_max_decompressed_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    ingest_max_event_bytes: int = Field(1024 * 1024, ge=1024)
    # Containers (docs/containers.md). DOCKER_HOST is Docker's own variable.
    docker_host: str = Field("unix:///var/run/docker.sock", validation_alias=_env("DOCKER_HOST"),
                             description="The Docker Engine API: unix:///path or tcp://host:port "
                                         "(Podman: its compatible socket).")
    docker_discovery: bool = Field(False, description="Watch containers labelled "
                                   "<label prefix>.enable=true without listing them in "
                                   "services.json.")
    docker_label_prefix: str = Field("soulfra", pattern=r"^[a-z0-9][a-z0-9.-]*$")

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, v: str) -> str:
        if not v.startswith(("unix://", "tcp://", "http://", "/")):
            raise ValueError(f"{v!r}: use unix:///path/to/docker.sock or tcp://host:port")
        return v

    # Lifecycle (docs/operations.md).
    config_poll_interval: float = Field(1.0, ge=0, description="Seconds between looks at "
                                        "services.json for changes; 0 turns watching off.")
    shutdown_timeout: float = Field(20.0, gt=0, description="Seconds a graceful stop may take "
                                    "(keep it below the unit's TimeoutStopSec).")

    @model_validator(mode="after")
    def _reach(self) -> Settings:
        """ERROR_EMAIL and CRITICAL_ERROR_PHONE need somewhere to send through."""
        if self.error_email and self.error_email.strip() and self.smtp_url is None:
            raise ValueError("ERROR_EMAIL is set but SOULFRA_SMTP_URL is not "
                             "(smtp://user:password@host:port)")
        if self.critical_error_phone and self.critical_error_phone.strip() and \
                self.phone_url is None:
            raise ValueError("CRITICAL_ERROR_PHONE is set but SOULFRA_PHONE_URL is not (an "
                             "Apprise URL with {phone}, e.g. twilio://SID:TOKEN@+15550000/"
                             "{phone})")
        return self

# Set by systemd for the daemon alone: a child that inherited them could send READY=1 or
# watchdog pings in the daemon's name (NotifyAccess=main refuses them, but why hand them out).
SYSTEMD_OWN = frozenset({"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS",
                         "LISTEN_PID", "LISTEN_FDNAMES"})


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment a supervised process starts with: the daemon's, without what is the
    daemon's own: every SOULFRA_* variable (the API token among them) and systemd's for it.
    The platform's unprefixed names (ERROR_LOG_LEVEL, ...) are shared and passed on."""
    return {k: v for k, v in environ.items()
            if not k.upper().startswith("SOULFRA_") and k not in SYSTEMD_OWN}
