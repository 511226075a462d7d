"""Local stand-ins for services Apprise speaks to, answering as their APIs do, for the Apprise
and phone tests; all on 127.0.0.1.

- ntfy (POST / with a JSON body naming the topic; 429 is `{"code": 42901, "http": 429, ...}`)
- Telegram Bot API (POST /bot<token>/sendMessage; `{"ok": true, "result": {...}}`)
- PagerDuty Events v2 (POST /v2/enqueue; 202 `{"status": "success", "dedup_key": ...}`)
- Microsoft Teams workflows (POST /workflows/<id>/triggers/manual/paths/invoke; 202)
- an SMS gateway reached with Apprise's json:// (POST /sms/<number>)

Telegram's and PagerDuty's Apprise plugins always call api.telegram.org and
events.pagerduty.com over HTTPS. `ConnectProxy` is an HTTPS proxy (HTTPS_PROXY for requests)
that tunnels exactly those host names to this receiver's TLS port, whose certificate is issued
for them by a test CA (REQUESTS_CA_BUNDLE). Nothing leaves the machine: any other CONNECT is
refused.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
from pathlib import Path
from typing import Any

from tests.support.alert_receiver import Receiver, Reply
from tests.support.helpers import free_port

JSON = {"Content-Type": "application/json"}
HOSTS = ("api.telegram.org", "events.pagerduty.com", "events.eu.pagerduty.com")


class ServiceReceiver(Receiver):
    ROUTES = {"ntfy": "/", "telegram": "/bot{tail:.*}", "pagerduty": "/v2/enqueue",
              "teams": "/workflows/{tail:.*}", "sms": "/sms/{tail:.*}"}
    DEFAULT: dict[str, Reply] = {
        "ntfy": (200, JSON, '{"id": "hJ2bT3kx9", "time": 1795000000, "event": "message", '
                            '"topic": "alerts"}'),
        "telegram": (200, JSON, '{"ok": true, "result": {"message_id": 42, "chat": '
                                '{"id": 98765, "type": "private"}, "date": 1795000000}}'),
        "pagerduty": (202, JSON, '{"status": "success", "message": "Event processed", '
                                 '"dedup_key": "srv01/mysql"}'),
        "teams": (202, {}, ""),
        "sms": (200, JSON, '{"queued": true}'),
    }


NTFY_429: Reply = (429, JSON, '{"code": 42901, "http": 429, "error": "limit reached: too many '
                              'requests, please be nice", "link": "https://ntfy.sh/docs/publish/'
                              '#limitations"}')
TELEGRAM_429: Reply = (429, JSON, '{"ok": false, "error_code": 429, "description": "Too Many '
                                  'Requests: retry after 3", "parameters": {"retry_after": 3}}')
TELEGRAM_401: Reply = (401, JSON, '{"ok": false, "error_code": 401, "description": '
                                  '"Unauthorized"}')
PAGERDUTY_400: Reply = (400, JSON, '{"status": "invalid event", "message": "Event object is '
                                   'invalid", "errors": ["Length of \'routing_key\' is incorrect '
                                   '(should be 32 characters)"]}')
TEAMS_502: Reply = (502, JSON, '{"error": {"code": "BadGateway", "message": "The workflow '
                               'failed to run"}}')


def make_test_ca(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA (ca.pem, for REQUESTS_CA_BUNDLE) and a certificate it issued for HOSTS and
    127.0.0.1 (cert, key: for the receiver's TLS port)."""
    ca, ca_key = tmp / "ca.pem", tmp / "ca.key"
    cert, key, csr, ext = tmp / "svc.pem", tmp / "svc.key", tmp / "svc.csr", tmp / "svc.ext"
    def run(*a: str) -> None:
        subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
        "-out", str(ca), "-days", "2", "-subj", "/CN=soulfra test CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={HOSTS[0]}")
    ext.write_text("subjectAltName=" + ",".join([f"DNS:{h}" for h in HOSTS] +
                                                ["IP:127.0.0.1", "DNS:localhost"]) +
                   "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


class ConnectProxy:
    """HTTP CONNECT proxy: HOSTS:443 → 127.0.0.1:<target_port>; anything else 403."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self.target_port = target_port
        self.tunnels: list[str] = []
        self.refused: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or host not in HOSTS or port != "443":
                self.refused.append(target)
                writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                return
            self.tunnels.append(host)
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await writer.drain()
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, ValueError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> Any:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except OSError:
        pass
    finally:
        dst.close()


# Secrets in the URLs the tests use: each must never appear in a log, the store or the API.
BOT = "123456789:AAHsecretBotToken_abcdefghijklmnop"
PD_KEY = "0123456789abcdef0123456789abcdef"
SIG = "wfSignatureSecret42"


def urls(r: ServiceReceiver) -> dict[str, str]:
    return {"ntfy": f"ntfy://127.0.0.1:{r.port}/alerts-topic-7f3k",
            "telegram": f"tgram://{BOT}/98765",
            "pagerduty": f"pagerduty://{PD_KEY}@apikey-secret-123",
            "teams": f"workflows://127.0.0.1:{r.tls_port}/0123456789abcdef0123456789abcdef/{SIG}",
            "sms": f"json://127.0.0.1:{r.port}/sms/{{phone}}"}
