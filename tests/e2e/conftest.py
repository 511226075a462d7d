"""Fixtures of the end-to-end tests (the daemon as a subprocess)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def listeners() -> Iterator[dict[str, socket.socket]]:
    """TCP ports a test opens and closes to make a tcp-checked service fail and recover."""
    socks: dict[str, socket.socket] = {}
    yield socks
    for s in socks.values():
        s.close()
