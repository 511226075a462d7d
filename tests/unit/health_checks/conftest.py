"""Fixtures the check tests share: the demo service as a real subprocess (and, from the root
conftest, `check_env`: the HTTP client and heartbeat board a daemon hands its checks)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from health_checks.base import CheckEnv, HealthCheck
from tests.support.checks import make_check
from tests.support.helpers import DEMO, free_port, http, kill_tree, wait_for


@pytest.fixture
def demo() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port)])
    wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/health")[0] == 200, what="demo up")
    yield port, proc
    kill_tree(proc.pid)


@pytest.fixture(params=["lean", "aiohttp"])
def make_http(request: pytest.FixtureRequest, check_env: CheckEnv) -> Callable[..., HealthCheck]:
    """Each http test runs on both paths: the lean probe and aiohttp."""
    def build(**cfg: Any) -> HealthCheck:
        client = "auto" if request.param == "lean" else "aiohttp"
        check = make_check("http", env=check_env, client=client, **cfg)
        assert check.client == request.param  # type: ignore[attr-defined]  # the path under test
        return check
    return build
