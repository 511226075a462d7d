"""How the http check gets its answer: the lean probe for plain checks, aiohttp for the rest.

Both return an `Answer` or raise `FetchFailure` with the kind of failure already named, so
health_checks/http.py judges the answer the same way whichever path fetched it.

The lean path (supervisor/clients/http_probe.py) is used when nothing in the check needs
aiohttp: plain http:// to a literal IP address, no credentials in the URL, headers that do not
change the framing. https, host names (DNS, happy eyeballs), credentials and the rest stay on
aiohttp. Neither path follows redirects: a 3xx is the answer.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from health_checks.base import CheckKind
from supervisor.clients.http import HttpClient
from supervisor.clients.http_probe import HttpProbe, ProbeFailure, build_request

MAX_BODY = 1024 * 1024
# Headers the lean probe writes itself (framing and connection handling).
_FRAMING = {"connection", "content-length", "transfer-encoding", "keep-alive", "upgrade",
            "expect", "te"}


@dataclass(slots=True)
class Answer:
    status: int
    headers: Any  # a mapping with .get(name); aiohttp's is case-insensitive, the lean one lower
    body: bytes
    lower_case_headers: bool = False

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower() if self.lower_case_headers else name)
        return value if value is None else str(value)


class FetchFailure(Exception):
    def __init__(self, kind: CheckKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True, slots=True)
class LeanTarget:
    host: str
    port: int
    target: str  # path and query, as sent
    host_header: str


def lean_target(url: str, headers: dict[str, str]) -> LeanTarget | None:
    """Where the lean probe would send this check, or None if it needs aiohttp."""
    if not url.isascii() or any(c in url for c in " \t\r\n"):
        return None
    for k, v in headers.items():
        if k.lower() in _FRAMING or any(c in k + v for c in "\r\n") or not (k + v).isascii():
            return None
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.username or parts.password or not parts.hostname:
        return None
    try:
        ipaddress.ip_address(parts.hostname)
        port = parts.port or 80
    except ValueError:
        return None  # a host name (DNS) or a bad port: aiohttp's job
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return LeanTarget(parts.hostname, port, target, parts.netloc)


class LeanFetcher:
    """The lean probe for one check, keeping its connection between runs when asked to."""

    def __init__(self, url: str, method: str, headers: dict[str, str], where: LeanTarget, *,
                 read_body: bool, reuse: bool,
                 on_lost: Callable[[Exception | None], None]) -> None:
        self.url = url
        self._request = (method, where.target, where.host_header, headers)
        request = build_request(*self._request, keep_alive=reuse)
        self.probe = HttpProbe(where.host, where.port, request, head_only=method == "HEAD",
                               read_body=read_body, max_body=MAX_BODY, reuse=reuse,
                               on_lost=on_lost)

    async def fetch(self) -> Answer:
        try:
            a = await self.probe.fetch()
        except ProbeFailure as f:
            if f.kind == "refused":
                raise FetchFailure(CheckKind.REFUSED,
                                   f"cannot connect to {self.url}: {f.detail}") from None
            if f.kind == "broke":
                raise FetchFailure(CheckKind.UNHEALTHY,
                                   f"connection to {self.url} broke: {f.detail}") from None
            raise FetchFailure(CheckKind.UNHEALTHY,
                               f"bad answer from {self.url}: {f.detail}") from None
        return Answer(a.status, a.headers, a.body, lower_case_headers=True)

    def forget_connection(self) -> None:
        self.probe.close()

    @property
    def reusing(self) -> bool:
        return self.probe.reuse

    def stop_reusing(self) -> None:
        self.probe.reuse = False
        self.probe.request = build_request(*self._request, keep_alive=False)
        self.probe.close()


async def aiohttp_fetch(http: HttpClient, url: str, method: str, headers: dict[str, str],
                        ssl_ctx: ssl.SSLContext | bool) -> Answer:
    """The request through the daemon's aiohttp session (fresh connection each time)."""
    import aiohttp  # only checks that need it pay for the import (the CLI, mostly)

    try:
        async with http.session().request(method, url, headers=headers,
                                            allow_redirects=False, ssl=ssl_ctx) as resp:
            body = await resp.content.read(MAX_BODY)
            return Answer(resp.status, resp.headers, body)
    except aiohttp.ClientConnectorCertificateError as exc:
        raise FetchFailure(CheckKind.UNHEALTHY, f"TLS certificate of {url} rejected: "
                                                f"{exc.certificate_error}") from None
    except aiohttp.ClientConnectorError as exc:
        raise FetchFailure(CheckKind.REFUSED,
                           f"cannot connect to {url}: {_why(exc.os_error)}") from None
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise FetchFailure(CheckKind.UNHEALTHY, f"connection to {url} broke: {exc}") from None
    except aiohttp.ClientError as exc:
        raise FetchFailure(CheckKind.UNHEALTHY, f"bad answer from {url}: {exc}") from None


def _why(err: OSError) -> str:
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return err.strerror or str(err)
