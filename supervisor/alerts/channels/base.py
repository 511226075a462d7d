"""What every alert channel shares: its config model, the answer it got, and `send()`.

A channel module (slack.py, discord.py, webhook.py) adds its own config fields, turns a batch
of alerts into its platform's native payload, and reads its platform's answer. Sending,
timeouts and the meaning of HTTP status codes live here, once.
"""

from __future__ import annotations

import fnmatch
import json
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from supervisor import __version__
from supervisor.alerts.message import Alert, rank
from supervisor.alerts.recurring import active_window, cron_trigger
from supervisor.clients.http import HttpClient
from supervisor.core.redaction import redact_text
from supervisor.core.taxonomy import Severity

USER_AGENT = f"soulfra-supervisor/{__version__} (alerts)"
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})


class QuietHours(BaseModel):
    """Hours in which this channel gets only critical alerts; the others wait for the end."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    cron: str = Field(description="When quiet hours begin: 5 fields, or 6 (seconds first)")
    timezone: str = "UTC"
    duration: float = Field(gt=0, alias="durationMs")

    @model_validator(mode="after")
    def _cron(self) -> QuietHours:
        cron_trigger(self.cron, self.timezone)
        return self

    def until(self, now: float) -> float | None:
        """The end of the quiet hours `now` is in (None: not quiet)."""
        window = active_window(cron_trigger(self.cron, self.timezone), self.duration / 1000, now)
        return None if window is None else window[1]


class ChannelConfig(BaseModel):
    """Fields every channel accepts; channel modules add `type: Literal[...]` and their own."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    type: str
    name: str | None = Field(None, description="Name used by `alert test` and in the API; "
                                               "default: the type.")
    url: SecretStr = Field(description="Where to POST; a secret: never logged or shown.",
                           json_schema_extra={"pattern": "^https?://"})
    min_severity: Severity = Field(Severity.LOW, alias="minSeverity", strict=False,
                                   description="Lowest severity sent here; `info` also gets "
                                               "self-healed reports.")
    services: list[str] = Field(default_factory=list,
                                description="Only these services (glob patterns); empty: all.")
    exclude_services: list[str] = Field(default_factory=list, alias="excludeServices")
    min_interval: float | None = Field(None, ge=0, alias="minIntervalMs",
                                       description="Pacing: ms between two messages.")
    timeout: float = Field(10000, gt=0, alias="timeoutMs")
    max_batch: int = Field(10, ge=1, le=10, alias="maxBatch",
                           description="Alerts grouped into one message at most.")
    quiet_hours: QuietHours | None = Field(None, alias="quietHours",
                                           description="Non-critical alerts wait for its end.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:
        value = url.get_secret_value()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url

    def wants(self, alert: Alert) -> bool:
        if rank(alert.severity) < rank(self.min_severity):
            return False
        if self.services and not any(fnmatch.fnmatchcase(alert.service, p)
                                     for p in self.services):
            return False
        return not any(fnmatch.fnmatchcase(alert.service, p) for p in self.exclude_services)


@dataclass
class Answer:
    """What the platform said, reduced to what delivery needs to decide."""

    ok: bool
    status: int | None = None  # None: no HTTP answer at all
    body: str = ""
    retry_after: float | None = None  # seconds, from 429
    permanent: bool = False  # retrying the same message cannot help
    detail: str = ""
    latency_ms: float = 0.0
    protocol: str = "HTTP"  # what `status` is a code of: HTTP, SMTP

    def describe(self) -> str:
        if self.ok:
            return f"accepted ({self.status})" if self.status is not None else "accepted"
        head = f"{self.protocol} {self.status}" if self.status is not None else "no answer"
        return f"{head}: {self.detail or self.body[:200]}".strip()


class Channel:
    type_name: ClassVar[str]
    config_model: ClassVar[type[ChannelConfig]]
    default_interval_ms: ClassVar[float] = 0.0

    def __init__(self, config: ChannelConfig, http: HttpClient) -> None:
        self.config = config
        self.name = config.name or config.type
        self.http = http

    @property
    def interval_s(self) -> float:
        ms = self.config.min_interval
        return (self.default_interval_ms if ms is None else ms) / 1000

    # -- what a channel module provides -----------------------------------------------------
    def render(self, alerts: list[Alert]) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def headers(self, body: bytes, alerts: list[Alert]) -> dict[str, str]:
        return {}

    def read_answer(self, status: int, headers: dict[str, str], text: str) -> Answer:
        """The platform's answer → ok / retry (with its wait) / permanent."""
        if 200 <= status < 300:
            return Answer(True, status, text[:500])
        retry_after = _seconds(headers.get("Retry-After")) if status == 429 else None
        return Answer(False, status, text[:500], retry_after=retry_after,
                      permanent=status not in RETRYABLE and status < 500,
                      detail=_short(text))

    # -- sending ----------------------------------------------------------------------------
    async def send(self, alerts: list[Alert]) -> Answer:
        return await self.post(self.render(alerts), alerts)

    async def post(self, payload: dict[str, Any], alerts: list[Alert]) -> Answer:
        import aiohttp  # loaded by the daemon anyway; the CLI's validate need not pay for it

        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   **self.headers(body, alerts)}
        started = time.monotonic()
        try:
            async with self.http.session().post(
                    self.config.url.get_secret_value(), data=body, headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.config.timeout / 1000)) as resp:
                text = await resp.text(errors="replace")
                answer = self.read_answer(resp.status, dict(resp.headers), text)
        except TimeoutError:
            answer = Answer(False, None, detail=f"timed out after {self.config.timeout:g} ms")
        except (aiohttp.ClientError, OSError) as exc:
            # aiohttp names the URL in some messages; the URL is the secret
            answer = Answer(False, None, detail=redact_text(_without_url(
                f"{type(exc).__name__}: {exc}", self.config.url.get_secret_value())))
        answer.latency_ms = (time.monotonic() - started) * 1000
        answer.body = redact_text(answer.body)
        answer.detail = redact_text(answer.detail)
        return answer


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _short(text: str) -> str:
    return " ".join(text.split())[:200]


def _without_url(text: str, url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    text = text.replace(url, "<channel url>")
    if parts.path and len(parts.path) > 1:
        text = text.replace(parts.path, "/***")
    return text
