"""The extended http check against real HTTP(S) servers: body conditions, a JSON Schema
contract that the service drifts from, headers, and a TLS certificate about to expire."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import ValidationError

import health_checks
from health_checks.base import CheckKind
from tests.support.faults import report
from tests.support.helpers import http

SCHEMA = {
    "type": "object", "required": ["status", "queue"],
    "properties": {
        "status": {"enum": ["ok", "busy"]},
        "queue": {"type": "object", "required": ["depth"],
                  "properties": {"depth": {"type": "integer", "minimum": 0}}},
    },
}


@pytest.fixture
def make(check_env):
    def build(**cfg):
        cls = health_checks.registry.get("http")
        return cls(cls.config_model.model_validate({"type": "http", **cfg}), "api", check_env)
    return build


@pytest.fixture(params=["lean", "aiohttp"])
def make_on(request, make):
    """Plain-http tests run on both paths: the lean probe and aiohttp."""
    def build(**cfg):
        check = make(client="auto" if request.param == "lean" else "aiohttp", **cfg)
        assert check.client == request.param
        return check
    return build


async def _serve(app: web.Application, ssl_context: ssl.SSLContext | None = None):
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def test_a_health_body_that_drifts_from_its_schema_is_a_contract_violation(make_on):
    body = {"status": "ok", "queue": {"depth": 3}, "version": "1.2"}

    async def health(_: web.Request) -> web.Response:
        return web.json_response(body, headers={"X-Service": "api/1.2"})

    app = web.Application()
    app.router.add_get("/health", health)
    runner, port = await _serve(app)
    url = f"http://127.0.0.1:{port}/health"
    check = make_on(url=url, schema=SCHEMA, expectHeaders={"X-Service": r"^api/"},
                    expect=[{"path": "$.queue.depth", "max": 10},
                            {"path": "status", "matches": "^(ok|busy)$"}])
    try:
        r = await check.run()
        assert r.kind is CheckKind.HEALTHY, r
        # A new release renames a field and changes a type: the contract breaks.
        body.pop("queue")
        body["queue_depth"] = "3"
        fault = time.monotonic()
        r = await check.run()
        report("health body drifts from its JSON Schema", time.monotonic() - fault, r)
        assert r.kind is CheckKind.CONTRACT_VIOLATION
        assert "$" in r.details["violation"]["path"] and "queue" in r.message
        assert r.details["drift"]["removed"] == ["$.queue", "$.queue.depth"]
        assert r.details["drift"]["added"] == ["$.queue_depth"]
        assert "drift from the last good shape" in r.message
        body["queue"] = {"depth": "3"}
        r = await check.run()
        assert r.kind is CheckKind.CONTRACT_VIOLATION and "$.queue.depth" in r.message
        assert r.details["drift"]["changed"] == {"$.queue.depth": "integer -> string"}
        # Contract kept but a condition fails: unhealthy, naming the path and value.
        body["queue"] = {"depth": 50}
        r = await check.run()
        assert r.kind is CheckKind.UNHEALTHY and "$.queue.depth = 50 is above 10" in r.message
        body["queue"] = {"depth": 1}
        assert (await check.run()).kind is CheckKind.HEALTHY
        r = await make_on(url=url, expectHeaders={"X-Service": r"^billing/"}).run()
        assert r.kind is CheckKind.UNHEALTHY and "X-Service" in r.message
        r = await make_on(url=url,
                          expect=[{"path": "$.status", "equals": "busy"}]).run()
        assert r.kind is CheckKind.UNHEALTHY and 'expected "busy"' in r.message
    finally:
        await runner.cleanup()


def _cert(tmp: Path, days: int) -> tuple[Path, Path]:
    cert, key = tmp / f"cert{days}.pem", tmp / f"key{days}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", str(days), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


async def test_tls_certificate_close_to_expiry_is_degraded(tmp_path, make):
    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health", health)
    for days, expected in ((3, CheckKind.DEGRADED), (90, CheckKind.HEALTHY)):
        cert, key = _cert(tmp_path, days)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        runner, port = await _serve(app, ctx)
        try:
            url = f"https://127.0.0.1:{port}/health"
            r = await make(url=url, caFile=str(cert), tlsExpiryDays=14).run()
            assert r.kind is expected, r
            assert days - 1 < r.details["tlsDaysLeft"] <= days
            if expected is CheckKind.DEGRADED:
                assert "expires in" in r.message
            # Not trusted: the certificate is rejected, and the check says so.
            r = await make(url=url).run()
            assert r.kind is CheckKind.UNHEALTHY and "certificate" in r.message.lower()
        finally:
            await runner.cleanup()


def test_bad_contract_config_names_the_field():
    cls = health_checks.registry.get("http").config_model
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        cls.model_validate({"type": "http", "url": "http://x/", "schema": {"type": "nope"}})
    with pytest.raises(ValidationError, match="regular expression"):
        cls.model_validate({"type": "http", "url": "http://x/",
                            "expect": [{"path": "$.a", "matches": "("}]})


async def test_http_healthy_degraded_unhealthy_stalled(demo, make_http):
    port, proc = demo
    url = f"http://127.0.0.1:{port}"
    r = await make_http(url=url + "/health", timeout=2000).run()
    assert r.kind is CheckKind.HEALTHY and r.details["status"] == 200 and r.latency_ms > 0
    r = await make_http(url=url + "/slow?ms=300", timeout=2000,
                         degradedAfter=100).run()
    assert r.kind is CheckKind.DEGRADED and r.latency_ms >= 300
    http("POST", url + "/fail")
    r = await make_http(url=url + "/health", timeout=2000).run()
    assert r.kind is CheckKind.UNHEALTHY and "500" in r.message
    http("POST", url + "/heal")
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        r = await make_http(url=url + "/health", timeout=500).run()
        assert r.kind is CheckKind.STALLED and 450 <= r.latency_ms < 1500
    finally:
        os.kill(proc.pid, signal.SIGCONT)
