"""The daemon's one client of the Docker Engine API (dockerd, or Podman's compatible socket).

A thin layer over aiohttp rather than aiodocker: the container check needs stats with
`one-shot` (aiodocker has no way to ask, and without it each read waits for dockerd's next
1 s sample twice), the watchdog must tell "socket absent" from "permission denied" from
"dockerd restarting" (aiodocker folds them all into DockerError(900, text)), and the event
stream must resume from the last event seen after a reconnect. Everything here turns an
aiohttp or OS error into DockerUnavailable with a sentence a user can act on, or into
ContainerNotFound; nothing else leaves this module.

The daemon imports this module only when a service watches a container (or label discovery
is on), so a daemon without containers never loads it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Docker 20.10 and later answer this version, and so does Podman 4's compatible API.
API_VERSION = "v1.41"


class DockerUnavailable(Exception):
    """dockerd cannot be reached, refused us, or failed: the message says which and why."""


class ContainerNotFound(Exception):
    """No container has this name or id."""


class DockerClient:
    def __init__(self, host: str = DEFAULT_HOST, timeout_s: float = 5.0) -> None:
        self.host = host or DEFAULT_HOST
        self.timeout_s = timeout_s
        parts = urlsplit(self.host if "://" in self.host else f"unix://{self.host}")
        if parts.scheme == "unix":
            self.socket_path: str | None = parts.path
            self._base = "http://docker"
        elif parts.scheme in ("tcp", "http"):
            self.socket_path = None
            self._base = f"http://{parts.netloc}"
        else:
            raise ValueError(f"DOCKER_HOST {self.host!r}: use unix:///path/to/docker.sock or "
                             "tcp://host:port")
        self._session: aiohttp.ClientSession | None = None

    @property
    def where(self) -> str:
        return f"the Docker socket {self.socket_path}" if self.socket_path else \
            f"dockerd at {self._base}"

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector = (
                aiohttp.UnixConnector(path=self.socket_path) if self.socket_path
                else aiohttp.TCPConnector())
            self._session = aiohttp.ClientSession(connector=connector, trust_env=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- one request, errors translated --------------------------------------------------
    @asynccontextmanager
    async def _request(self, method: str, path: str, params: dict[str, Any] | None = None,
                       stream: bool = False, body: Any = None,
                       timeout_s: float | None = None) -> AsyncIterator[aiohttp.ClientResponse]:
        limit = self.timeout_s if timeout_s is None else timeout_s
        timeout = (aiohttp.ClientTimeout(total=None, sock_connect=limit) if stream
                   else aiohttp.ClientTimeout(total=limit))
        url = f"{self._base}/{API_VERSION}{path}"
        try:
            async with self._http().request(method, url, params=params, json=body,
                                            timeout=timeout) as resp:
                if resp.status >= 400:
                    raise _status_error(resp.status, await _message(resp), path)
                yield resp
        except aiohttp.ClientConnectorError as exc:
            raise DockerUnavailable(self._cannot_connect(exc.os_error)) from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                aiohttp.ClientOSError) as exc:
            raise DockerUnavailable(f"{self.where}: dockerd closed the connection "
                                    f"(restarting?): {exc}") from None
        except TimeoutError:
            raise DockerUnavailable(f"{self.where}: dockerd did not answer {method} {path} "
                                    f"within {limit:g} s") from None
        except aiohttp.ClientError as exc:
            raise DockerUnavailable(f"{self.where}: {exc}") from None

    def _cannot_connect(self, err: OSError) -> str:
        if isinstance(err, FileNotFoundError):
            return (f"{self.where} does not exist: is dockerd running on this host? "
                    "(DOCKER_HOST names another socket; in a container, mount it with "
                    "-v /var/run/docker.sock:/var/run/docker.sock)")
        if isinstance(err, PermissionError):
            return (f"permission denied on {self.where}: the supervisor's user must be in "
                    "the socket's group (usually 'docker'; in a container, --group-add the "
                    "socket's gid)")
        if isinstance(err, ConnectionRefusedError):
            return f"nothing listens on {self.where}: dockerd is stopped or restarting"
        return f"cannot connect to {self.where}: {err.strerror or err}"

    async def _json(self, method: str, path: str, params: dict[str, Any] | None = None,
                    timeout_s: float | None = None) -> Any:
        async with self._request(method, path, params, timeout_s=timeout_s) as resp:
            text = await resp.text()
        return json.loads(text) if text.strip() else None

    # -- the calls the watchdog makes ----------------------------------------------------
    async def ping(self) -> dict[str, Any]:
        return dict(await self._json("GET", "/version"))

    async def inspect(self, name: str) -> dict[str, Any]:
        """GET /containers/{name}/json; ContainerNotFound when there is none."""
        return dict(await self._json("GET", f"/containers/{quote(name, safe='')}/json"))

    async def stats(self, name: str) -> dict[str, Any]:
        """One sample of CPU and memory, without waiting for a second sample (`one-shot`)."""
        return dict(await self._json("GET", f"/containers/{quote(name, safe='')}/stats",
                                     {"stream": "false", "one-shot": "true"}))

    async def restart(self, name: str, stop_timeout_s: int) -> None:
        """POST /restart: SIGTERM, then SIGKILL after stop_timeout_s, then start."""
        await self._json("POST", f"/containers/{quote(name, safe='')}/restart",
                         {"t": str(stop_timeout_s)}, timeout_s=stop_timeout_s + self.timeout_s)

    async def start(self, name: str) -> None:
        await self._json("POST", f"/containers/{quote(name, safe='')}/start")

    async def containers(self, label: str | None = None) -> list[dict[str, Any]]:
        """Every container (running or not), optionally only those with `label`."""
        params: dict[str, Any] = {"all": "true"}
        if label:
            params["filters"] = json.dumps({"label": [label]})
        return list(await self._json("GET", "/containers/json", params))

    async def events(self, since: float | None = None) -> AsyncIterator[dict[str, Any]]:
        """Container events as dockerd sends them, from `since` (unix time) on; ends (or
        raises DockerUnavailable) when the stream breaks."""
        params: dict[str, Any] = {"filters": json.dumps({"type": ["container"]})}
        if since is not None:
            params["since"] = f"{since:.9f}"
        async with self._request("GET", "/events", params, stream=True) as resp:
            while True:
                try:
                    line = await resp.content.readline()
                except (aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
                    raise DockerUnavailable(f"{self.where}: the event stream broke: "
                                            f"{exc}") from None
                if not line:
                    return  # dockerd closed the stream (it stops or restarts)
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        continue  # a line we cannot read is skipped, not fatal


def _status_error(status: int, message: str, path: str) -> Exception:
    if status == 404 and path.startswith("/containers/"):
        return ContainerNotFound(message or "no such container")
    return DockerUnavailable(f"dockerd answered HTTP {status} to {path}: {message}")


async def _message(resp: aiohttp.ClientResponse) -> str:
    try:
        text = await asyncio.wait_for(resp.text(), 2.0)
    except (TimeoutError, aiohttp.ClientError):
        return ""
    try:
        return str(json.loads(text).get("message", text)).strip()
    except (ValueError, AttributeError):
        return text.strip()[:300]
