"""A line repeated from one place is written a few times a minute, then counted (issue 13:
10,485 `socket.accept() out of system resource` lines in 8 s; 466 tracebacks from a full disk)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from loguru import logger

from supervisor.observability.log import RepeatLimiter


@pytest.fixture
def lines() -> Iterator[list[str]]:
    out: list[str] = []
    sink = logger.add(lambda m: out.append(m.record["message"]), format="{message}",
                      filter=RepeatLimiter(burst=5, window_s=0.3))
    yield out
    logger.remove(sink)


def _accept_failed(fd: int) -> None:
    logger.error("socket.accept() out of system resource (fd {})", fd)


def test_a_repeated_line_is_written_a_few_times_then_counted(lines: list[str]) -> None:
    for i in range(1000):
        _accept_failed(i)
    assert len(lines) == 5
    time.sleep(0.35)
    _accept_failed(1000)
    assert lines[-1].endswith("[995 more like this left out]")


def test_different_lines_are_not_held_back(lines: list[str]) -> None:
    for service in ("a", "b", "c", "d", "e", "f", "g"):
        logger.warning("{} is failing", service)  # the same place, other words
        logger.info("checked {}", service)
    assert len(lines) == 14
