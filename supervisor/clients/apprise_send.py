"""Sending through Apprise (one URL per sender), shared by the `apprise` and `phone` channels.

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
from dataclasses import dataclass

from supervisor.core.redaction import redact_text

CODE = re.compile(r"error=(\d{3,5})\b|\b(?:HTTP|status(?: code)?)[ =:]+(\d{3})\b", re.I)
NO_ANSWER = re.compile(r"connection|timed? ?out|refused|ssl|certificate|name resolution", re.I)
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504})
TYPES = ("info", "success", "warning", "failure")
# What services.schema.json can say of an Apprise URL: a scheme, then ://. Which schemes and
# what follows them is for Apprise's plugins to say (check_url).
URL_PATTERN = r"^[A-Za-z][A-Za-z0-9+.-]*://"


@dataclass
class Outcome:
    ok: bool
    status: int | None = None
    permanent: bool = False
    detail: str = ""
    latency_ms: float = 0.0


def check_url(url: str) -> None:
    """Raise ValueError naming the scheme (never the URL) when Apprise cannot use it."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if not scheme:
        raise ValueError("must be an Apprise URL such as ntfy://host/topic or tgram://token/chat")
    # Apprise costs ~4.5 MB and 0.1 s to import: only a config with an Apprise channel (or a
    # send) pays for it; the channel registry imports this module at every start.
    import apprise
    from apprise.manager_plugins import NotificationManager

    if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
        if scheme in NotificationManager().schemas():  # type: ignore[no-untyped-call]
            raise ValueError(f"Apprise cannot use this {scheme}:// URL (check its syntax)")
        raise ValueError(f"Apprise knows no service {scheme}://")


def secret_parts(url: str) -> list[str]:
    """The pieces of an Apprise URL worth hiding: tokens, keys, topics, chat ids, numbers (not
    the scheme, and not a host name with dots, which says where, not how to get in)."""
    rest = url.partition("://")[2]
    parts = re.split(r"[/:@?&=#,]+", rest)
    return sorted({p for p in parts if len(p) >= 4 and "." not in p}, key=len, reverse=True)


def mask(text: str, secrets: list[str]) -> str:
    for s in secrets:
        text = text.replace(s, "***")
    return redact_text(text)


class _ThreadLines(logging.Handler):
    """Apprise's log lines from one thread (senders may send at the same time)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.thread = threading.get_ident()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread and record.levelno >= logging.INFO:
            self.lines.append(record.getMessage())


def read_outcome(ok: bool, lines: list[str]) -> Outcome:
    """Apprise's True/False and its plugin's log lines → accepted / retry / permanent."""
    if ok:
        return Outcome(True)
    text = " ".join(lines)
    codes = [int(a or b) for a, b in CODE.findall(text)]
    if codes:
        status = codes[-1] // 100 if codes[-1] >= 10000 else codes[-1]
        return Outcome(False, status, detail=text[-300:],
                       permanent=status not in RETRYABLE and status < 500)
    return Outcome(False, None, detail=text[-300:] or "the service refused the notification",
                   permanent=not NO_ANSWER.search(text))


class AppriseSender:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # Apprise plugin objects are not made for parallel use

    async def send(self, url: str, title: str, body: str, notify_type: str = "info",
                   timeout_s: float = 10.0, markdown: bool = False) -> Outcome:
        started = time.monotonic()
        try:
            outcome = await asyncio.to_thread(self._notify, url, title, body, notify_type,
                                              timeout_s, markdown)
        except Exception as exc:  # a plugin crashed: the same message will crash it again
            outcome = Outcome(False, permanent=True, detail=f"{type(exc).__name__}: {exc}")
        outcome.latency_ms = (time.monotonic() - started) * 1000
        outcome.detail = mask(outcome.detail, secret_parts(url))[:300]
        return outcome

    def _notify(self, url: str, title: str, body: str, notify_type: str, timeout_s: float,
                markdown: bool) -> Outcome:
        import apprise

        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            return Outcome(False, permanent=True, detail="Apprise cannot use this URL")
        plugin.socket_connect_timeout = min(timeout_s, 10.0)
        plugin.socket_read_timeout = timeout_s
        plugin.request_rate_per_sec = 0  # pacing is the deliverer's job
        if markdown:
            plugin.notify_format = apprise.NotifyFormat.MARKDOWN
        lines = _ThreadLines()
        log = logging.getLogger("apprise")
        with self._lock:
            log.addHandler(lines)
            try:
                ok = bool(plugin.notify(body=body, title=title,
                                        notify_type=apprise.NotifyType(notify_type)))
            finally:
                log.removeHandler(lines)
        return read_outcome(ok, lines.lines)
