"""Channel and delivery tests share one thing: the HTTP client a daemon hands its channels,
one per test (an aiohttp session belongs to one event loop), and channels built with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from supervisor.alerts.channels.base import Channel
from supervisor.clients.http import HttpClient
from tests.support.alerts import channel as build_channel


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    yield client
    await client.close()


@pytest.fixture
def channel(http: HttpClient) -> Callable[..., Channel]:
    def build(kind: str, url: str, **extra: Any) -> Channel:
        return build_channel(kind, url, http, **extra)
    return build
