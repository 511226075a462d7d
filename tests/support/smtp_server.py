"""A real SMTP server (aiosmtpd) on a free port for the email tests: plain, STARTTLS on a
self-signed certificate, or implicit TLS; optionally with AUTH; it records every accepted mail
and answers DATA from a plan (e.g. 451 then 250), like a greylisting or refusing server."""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.helpers import free_port

USER, PASSWORD = "alerts", "smtp-pa55word-xyz"


def self_signed(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "smtp-cert.pem", tmp / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: EmailMessage
    at: float

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None and body.get_content_subtype() == subtype, subtype
        return str(body.get_content())


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        s = self.server
        with s.lock:
            s.attempts += 1
            reply = s.plan.popleft() if s.plan else s.mode
            if reply.startswith("250"):
                msg = message_from_bytes(envelope.content, policy=policy.default)
                s.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                    msg, time.time()))
        return reply


class SmtpServer:
    """mode: plain | starttls | tls; auth: require USER/PASSWORD."""

    def __init__(self, tmp: Path, mode: str = "plain", auth: bool = False) -> None:
        self.port = free_port()
        self.mode_name = mode
        self.mails: list[Mail] = []
        self.plan: deque[str] = deque()
        self.mode = "250 OK"
        self.attempts = 0
        self.logins: list[str] = []
        self.lock = threading.Lock()
        self.cert: Path | None = None
        kwargs: dict[str, Any] = {}
        if mode in ("starttls", "tls"):
            self.cert, key = self_signed(tmp)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.cert, key)
            if mode == "starttls":
                kwargs.update(tls_context=ctx, require_starttls=True)
            else:
                kwargs.update(ssl_context=ctx)
        if auth:
            kwargs.update(authenticator=self._auth, auth_required=True,
                          auth_require_tls=mode != "plain")
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                     **kwargs)

    def _auth(self, server: Any, session: Any, envelope: Any, mechanism: str,
              data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == USER.encode() and \
            data.password == PASSWORD.encode()
        with self.lock:
            self.logins.append(f"{mechanism}:{'ok' if ok else 'refused'}")
        return AuthResult(success=ok, handled=False)

    def url(self, auth: bool = False, **query: str) -> str:
        scheme = "smtps" if self.mode_name == "tls" else "smtp"
        cred = f"{USER}:{PASSWORD}@" if auth else ""
        if self.mode_name == "starttls":
            query = {"starttls": "true", **query}
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{scheme}://{cred}127.0.0.1:{self.port}" + (f"?{qs}" if qs else "")

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def answer(self, *replies: str) -> None:
        with self.lock:
            self.plan.extend(replies)

    def received(self) -> list[Mail]:
        with self.lock:
            return list(self.mails)
