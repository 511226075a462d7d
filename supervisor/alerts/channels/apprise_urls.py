"""The long tail of services through Apprise, one URL per channel: `ntfy://`, `tgram://`,
`pagerduty://`, `workflows://` (Microsoft Teams), `pover://`, `matrix://`, SMS gateways, ...

Apprise is synchronous (requests), so a send runs in a worker thread. It answers only
True/False; what the service said is in the lines its plugin logs while sending, so those are
captured for this thread alone and read: `error=NNN` (ntfy's five-digit codes are NNN plus two
digits) gives the status, which decides like an HTTP answer (429/5xx retry, other 4xx
permanent); a connection problem is retried; any other refusal is permanent. The URL is a
secret: its parts are masked in every detail kept or shown.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any, ClassVar, Literal

import apprise
from apprise.manager_plugins import NotificationManager
from pydantic import Field, SecretStr, field_validator

from supervisor.alerts.channels import registry
from supervisor.alerts.channels.base import RETRYABLE, Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert, clip, rank
from supervisor.clients.http import HttpClient
from supervisor.core.redaction import redact_text

CODE = re.compile(r"error=(\d{3,5})\b|\b(?:HTTP|status(?: code)?)[ =:]+(\d{3})\b", re.I)
NO_ANSWER = re.compile(r"connection|timed? ?out|refused|ssl|certificate|name resolution", re.I)
NOTIFY_TYPE = {"firing": apprise.NotifyType.FAILURE, "gave_up": apprise.NotifyType.FAILURE,
               "reminder": apprise.NotifyType.WARNING, "flapping": apprise.NotifyType.WARNING,
               "recovered": apprise.NotifyType.SUCCESS, "self_healed": apprise.NotifyType.SUCCESS}


def check_apprise_url(url: str) -> None:
    """Raise ValueError naming the scheme (never the URL) when Apprise cannot use it."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if not scheme:
        raise ValueError("must be an Apprise URL such as ntfy://host/topic or tgram://token/chat")
    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        if scheme in NotificationManager().schemas():  # type: ignore[no-untyped-call]
            raise ValueError(f"Apprise cannot use this {scheme}:// URL (check its syntax)")
        raise ValueError(f"Apprise knows no service {scheme}://")


def secret_parts(url: str) -> list[str]:
    """The pieces of an Apprise URL worth hiding: tokens, keys, topics, chat ids (not the
    scheme, and not a host name with dots, which says where, not how to get in)."""
    rest = url.partition("://")[2]
    parts = re.split(r"[/:@?&=#,]+", rest)
    return sorted({p for p in parts if len(p) >= 4 and "." not in p}, key=len, reverse=True)


def mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return redact_text(text)


class _ThreadLines(logging.Handler):
    """Apprise's log lines from one thread (channels may send at the same time)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.levelno >= logging.INFO:
            self.lines.append(record.getMessage())


def read_outcome(ok: bool, lines: list[str]) -> Answer:
    """Apprise's True/False and its plugin's log lines → accepted / retry / permanent."""
    text = " ".join(lines)
    if ok:
        return Answer(True, detail="")
    codes = [int(a or b) for a, b in CODE.findall(text)]
    status = None
    if codes:
        status = codes[-1] // 100 if codes[-1] >= 10000 else codes[-1]
    if status is not None:
        return Answer(False, status, detail=text[-300:],
                      permanent=status not in RETRYABLE and status < 500)
    return Answer(False, None, detail=text[-300:] or "the service refused the notification",
                  permanent=not NO_ANSWER.search(text))


class AppriseConfig(ChannelConfig):
    type: Literal["apprise"] = "apprise"
    url: SecretStr = Field(description="An Apprise URL (ntfy://, tgram://, pagerduty://, "
                                       "workflows://, pover://, matrix://, ...); a secret.")
    format: Literal["text", "markdown"] = Field("text", description="How the body is sent.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr) -> SecretStr:  # replaces the http:// check
        check_apprise_url(url.get_secret_value())
        return url


@registry.register("apprise")
class AppriseChannel(Channel):
    type_name: ClassVar[str] = "apprise"
    config_model: ClassVar[type[ChannelConfig]] = AppriseConfig
    body_chars: ClassVar[int] = 4000

    def __init__(self, config: ChannelConfig, http: HttpClient) -> None:
        super().__init__(config, http)
        self._lock = threading.Lock()  # one Apprise plugin object: one send at a time

    def target(self, alerts: list[Alert]) -> str:
        assert self.config.url is not None
        return self.config.url.get_secret_value()

    def render(self, alerts: list[Alert]) -> dict[str, Any]:
        if len(alerts) == 1:
            a = alerts[0]
            title, body = a.title, a.plain_text().partition("\n")[2]
        else:
            title = f"{len(alerts)} alerts: " + ", ".join(sorted({a.service for a in alerts}))
            body = "\n\n".join(a.plain_text() for a in alerts)
        worst = max(alerts, key=lambda a: (rank(a.severity), a.kind == "gave_up"))
        return {"title": clip(title, 250), "body": clip(body or title, self.body_chars),
                "notify_type": NOTIFY_TYPE.get(worst.kind, apprise.NotifyType.INFO)}

    async def send(self, alerts: list[Alert]) -> Answer:
        url = self.target(alerts)
        message = self.render(alerts)
        started = time.monotonic()
        try:
            answer = await asyncio.to_thread(self._notify, url, message)
        except Exception as exc:  # a plugin crashed: the same message will crash it again
            answer = Answer(False, permanent=True, detail=f"{type(exc).__name__}: {exc}")
        answer.latency_ms = (time.monotonic() - started) * 1000
        secrets = secret_parts(url)
        answer.detail = mask(answer.detail, secrets)[:300]
        answer.body = ""
        answer.protocol = url.partition("://")[0]
        return answer

    def _notify(self, url: str, message: dict[str, Any]) -> Answer:
        timeout = self.config.timeout / 1000
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            return Answer(False, permanent=True, detail="Apprise cannot use this URL")
        plugin.socket_connect_timeout = min(timeout, 10.0)
        plugin.socket_read_timeout = timeout
        plugin.request_rate_per_sec = 0  # pacing is the deliverer's job
        if getattr(self.config, "format", "text") == "markdown":
            plugin.notify_format = apprise.NotifyFormat.MARKDOWN
        lines = _ThreadLines()
        log = logging.getLogger("apprise")
        with self._lock:
            log.addHandler(lines)
            try:
                ok = bool(plugin.notify(body=message["body"], title=message["title"],
                                        notify_type=message["notify_type"]))
            finally:
                log.removeHandler(lines)
        return read_outcome(ok, lines.lines)
