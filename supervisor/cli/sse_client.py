"""A small blocking client for the daemon's event stream (the CLI's `watch`, and the tests).

Parses server-sent events as the HTML standard does (fields `id`, `event`, `data`, `retry`;
lines starting with `:` are comments), and reconnects with Last-Event-ID when asked to.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class ServerEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None
    comment: str | None = None  # set (and the rest empty) for a comment line, e.g. a heartbeat

    def json(self) -> Any:
        return json.loads(self.data)


def parse(lines: Iterable[bytes]) -> Iterator[ServerEvent]:
    """Turn the stream's lines into events (and comments, so callers can see heartbeats)."""
    event, event_id = "", None
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if line == "":
            if data:
                yield ServerEvent(event or "message", "\n".join(data), event_id)
            event, data, event_id = "", [], None
            continue
        if line.startswith(":"):
            yield ServerEvent(event="", comment=line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


def open_stream(url: str, last_event_id: str | None = None, timeout: float = 60.0,
                headers: dict[str, str] | None = None) -> Any:
    """Open the stream; the caller reads lines from (and closes) the returned response."""
    h = {"Accept": "text/event-stream", **(headers or {})}
    if last_event_id:
        h["Last-Event-ID"] = last_event_id
    return urllib.request.urlopen(urllib.request.Request(url, headers=h), timeout=timeout)


def follow(url: str, last_event_id: str | None = None, reconnect_s: float = 2.0,
           timeout: float = 60.0, on_disconnect: Any = None,
           on_connect: Any = None) -> Iterator[ServerEvent]:
    """Events forever, reconnecting (and resuming after the last id seen) when the stream drops."""
    while True:
        try:
            with open_stream(url, last_event_id, timeout) as resp:
                if on_connect is not None:
                    on_connect()
                for ev in parse(resp):
                    if ev.id:
                        last_event_id = ev.id
                    yield ev
        except (urllib.error.URLError, OSError) as exc:
            if on_disconnect is not None:
                on_disconnect(exc)
        else:
            if on_disconnect is not None:
                on_disconnect(None)
        time.sleep(reconnect_s)
