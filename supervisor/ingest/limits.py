"""Bounds on what a client may send: the body as sent, and the body once decompressed.

aiohttp undoes Content-Encoding (gzip, deflate, and br with the `brotli` package) while the
body streams in, a bounded chunk at a time; `read_limited` counts the inflated bytes and stops
at the limit, so a compression bomb (a few KB of gzip that inflate to gigabytes) is refused
with 413 after inflating no more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp.http_exceptions import ContentEncodingError

MB = 1024 * 1024


class IngestError(Exception):
    """A request we refuse: the HTTP status, the reason sent back, and what it is counted as."""

    def __init__(self, status: int, reason: str, counted_as: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.counted_as = counted_as
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int = 20 * MB  # as sent (compressed)
    max_decompressed: int = 50 * MB  # a whole envelope once inflated
    max_event: int = 1 * MB  # one event item (Sentry's own limit)
    max_items: int = 1000


async def read_limited(stream: Any, limit: int) -> bytes:
    """Read an aiohttp request stream (chunked or not) up to `limit` bytes, else 413."""
    parts: list[bytes] = []
    size = 0
    while True:
        try:
            chunk = await stream.readany()
        except ContentEncodingError as exc:
            raise IngestError(400, f"body does not decode as its Content-Encoding says: "
                                   f"{exc.message}", "bad_encoding") from None
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise IngestError(413, f"body larger than {limit} bytes (decompressed)",
                              "too_large")
        parts.append(chunk)
    return b"".join(parts)
