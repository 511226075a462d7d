"""Uptime is a share of time, not of checks."""

from __future__ import annotations

import time

from supervisor.core.uptime import uptime_percent


def test_uptime_is_a_share_of_time_not_of_checks():
    now = time.time()
    start = now - 1000
    rows = [
        {"id": 1, "at": start - 50, "service": "a", "state": "healthy"},
        {"id": 2, "at": start + 900, "service": "a", "state": "failing"},
        {"id": 3, "at": start + 950, "service": "a", "state": "healthy"},
        {"id": 4, "at": start + 100, "service": "b", "state": "healthy"},  # unknown before
        {"id": 5, "at": start + 500, "service": "b", "state": "maintenance"},
        {"id": 6, "at": start + 600, "service": "b", "state": "healthy"},
    ]
    # a: 950 up of 1000; b: 800 up of 800 counted (unknown and maintenance left out)
    assert abs(uptime_percent(rows, start, now, {"a", "b"}) - 100 * 1750 / 1800) < 0.01
    assert uptime_percent([], start, now, {"a"}) == 100.0
