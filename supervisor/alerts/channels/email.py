"""Email over SMTP (aiosmtplib): plain, STARTTLS or implicit TLS, with or without auth.

The server is an URL, `smtp://user:password@host:port` (`smtps://` for TLS from the first
byte, `?starttls=true` to upgrade a plain connection, `?from=` for the sender, `?verify=false`
for a relay whose certificate cannot be checked); the whole URL is a secret. A batch becomes
one mail per incident, sent over one connection, each threaded under the incident's first
page (_email_render.py). The server's answer decides: 2xx accepted, 4xx retry later (greylisting,
a full queue), 5xx refused for good and reported; no answer at all (refused connection,
timeout, dropped link) is retried like an HTTP 5xx.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from pydantic import Field, SecretStr, field_validator

from supervisor.alerts.channels import registry
from supervisor.alerts.channels._email_render import build_mail
from supervisor.alerts.channels.base import Answer, Channel, ChannelConfig
from supervisor.alerts.message import Alert
from supervisor.core.redaction import redact_text

TRUE = ("1", "true", "yes", "on")


@dataclass
class SmtpServer:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: Literal["implicit", "starttls", "none"]
    sender: str | None
    verify: bool


def parse_smtp_url(url: str) -> SmtpServer:
    """smtp[s]://[user[:password]@]host[:port][?starttls=true&from=...&verify=false]; errors
    never repeat the URL (it holds the password)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("must be an smtp:// or smtps:// URL")
    if not parts.hostname:
        raise ValueError("names no host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "from", "verify"}
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(sorted(unknown))}; "
                         "known: starttls, from, verify")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    starttls = query.get("starttls", "").lower() in TRUE
    if parts.scheme == "smtps" and starttls:
        raise ValueError("smtps:// is TLS from the start; starttls=true applies to smtp://")
    tls: Literal["implicit", "starttls", "none"] = \
        "implicit" if parts.scheme == "smtps" else "starttls" if starttls else "none"
    default_port = {"implicit": 465, "starttls": 587, "none": 25}[tls]
    return SmtpServer(host=parts.hostname, port=port or default_port,
                      username=unquote(parts.username) if parts.username else None,
                      password=unquote(parts.password) if parts.password else None,
                      tls=tls, sender=query.get("from") or None,
                      verify=query.get("verify", "true").lower() in TRUE)


# What the schema says of an address (stricter than _address: no spaces around it).
ADDRESS_PATTERN = r"^[^\s,;<>]+@(?:[^\s,;<>@]*\.[^\s,;<>@]*|localhost)$"


def _address(value: str) -> str:
    value = value.strip()
    local, _, domain = value.rpartition("@")
    if not local or "." not in domain and domain != "localhost" or any(c in value for c in
                                                                       " ,;<>\r\n"):
        raise ValueError(f"{value!r} is not an email address")
    return value


class EmailConfig(ChannelConfig):
    type: Literal["email"] = "email"
    url: SecretStr | None = Field(  # type: ignore[assignment]
        None, description="smtp://user:password@host:port (smtps://, ?starttls=true, ?from=); "
                          "a secret. Default: SOULFRA_SMTP_URL.",
        json_schema_extra={"pattern": "^smtps?://"})
    to: list[str] = Field(min_length=1, description="Recipients.",
                          json_schema_extra={"items": {"type": "string",
                                                       "pattern": ADDRESS_PATTERN}})
    sender: str | None = Field(None, alias="from",
                               description="From address; default: the URL's ?from= or "
                                           "soulfra-supervisor@<host name>.",
                               json_schema_extra={"pattern": ADDRESS_PATTERN})
    subject_prefix: str = Field("", alias="subjectPrefix", max_length=50)
    ca_file: str | None = Field(None, alias="caFile",
                                description="PEM certificates to trust for the SMTP server "
                                            "(a private relay's own CA).")
    timeout: float = Field(30000, gt=0, alias="timeoutMs")

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: SecretStr | None) -> SecretStr | None:  # type: ignore[override]
        # replaces the http:// check of every channel
        if url is not None:
            parse_smtp_url(url.get_secret_value())
        return url

    @field_validator("to")
    @classmethod
    def _addresses(cls, to: list[str]) -> list[str]:
        return [_address(a) for a in to]

    @field_validator("sender")
    @classmethod
    def _sender(cls, sender: str | None) -> str | None:
        return None if sender is None else _address(sender)


def _code_answer(code: int, text: str, latency_from: float) -> Answer:
    return Answer(ok=200 <= code < 400, status=code, body=text[:500], protocol="SMTP",
                  permanent=code >= 500, detail=" ".join(text.split())[:200],
                  latency_ms=(time.monotonic() - latency_from) * 1000)


@registry.register("email")
class EmailChannel(Channel):
    type_name: ClassVar[str] = "email"
    config_model: ClassVar[type[ChannelConfig]] = EmailConfig

    @property
    def cfg(self) -> EmailConfig:
        assert isinstance(self.config, EmailConfig)
        return self.config

    def server(self) -> SmtpServer:
        if self.cfg.url is None:
            raise ValueError("no SMTP server: set the channel's url or SOULFRA_SMTP_URL")
        return parse_smtp_url(self.cfg.url.get_secret_value())

    def sender(self, server: SmtpServer) -> str:
        return self.cfg.sender or server.sender or f"soulfra-supervisor@{socket.getfqdn()}"

    def mails(self, alerts: list[Alert], sender: str) -> list[Any]:
        """One mail per incident, in the order of each incident's first alert."""
        groups: dict[str, list[Alert]] = {}
        for a in alerts:
            groups.setdefault(a.correlation_id or a.id, []).append(a)
        return [build_mail(g, sender, self.cfg.to, self.cfg.subject_prefix)
                for g in groups.values()]

    def _client(self, server: SmtpServer) -> aiosmtplib.SMTP:
        context = None
        if server.tls != "none":
            context = ssl.create_default_context(cafile=self.cfg.ca_file)
            if not server.verify:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        return aiosmtplib.SMTP(hostname=server.host, port=server.port,
                               username=server.username, password=server.password,
                               use_tls=server.tls == "implicit",
                               start_tls=server.tls == "starttls", tls_context=context,
                               timeout=self.cfg.timeout / 1000)

    async def send(self, alerts: list[Alert]) -> Answer:
        started = time.monotonic()
        try:
            server = self.server()
        except ValueError as exc:
            return Answer(False, permanent=True, detail=str(exc), protocol="SMTP")
        mails = self.mails(alerts, self.sender(server))
        try:
            async with self._client(server) as smtp:
                last = ""
                for mail in mails:
                    refused, last = await smtp.send_message(mail)
                    if refused:  # some recipients took it: a retry would repeat it for them
                        who = ", ".join(f"{r} ({v.code})" for r, v in refused.items())
                        answer = _code_answer(250, last, started)
                        answer.detail = f"refused by some recipients: {who}"[:300]
                        return answer
            answer = _code_answer(250, last, started)
            answer.detail = f"{len(mails)} mail(s) to {len(self.cfg.to)} recipient(s)" \
                if len(mails) > 1 else ""
            return answer
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            worst = max(codes) if codes else 550
            # one temporary refusal among permanent ones: worth another try
            code = min(c for c in codes if c < 500) if any(c < 500 for c in codes) else worst
            text = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
            return _code_answer(code, text, started)
        except aiosmtplib.SMTPResponseException as exc:  # auth, sender, data: the code decides
            return _code_answer(exc.code, exc.message, started)
        except ssl.SSLCertVerificationError as exc:
            return Answer(False, permanent=True, protocol="SMTP",
                          detail=f"the server's certificate is not trusted ({exc.verify_message})"
                                 "; set caFile, or ?verify=false for a private relay",
                          latency_ms=(time.monotonic() - started) * 1000)
        except aiosmtplib.SMTPNotSupported as exc:  # e.g. STARTTLS asked, not offered
            return Answer(False, permanent=True, protocol="SMTP", detail=redact_text(str(exc)),
                          latency_ms=(time.monotonic() - started) * 1000)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            detail = redact_text(f"{type(exc).__name__}: {exc}")
            if server.password:
                detail = detail.replace(server.password, "***")
            return Answer(False, None, protocol="SMTP", detail=detail[:300],
                          latency_ms=(time.monotonic() - started) * 1000)
