"""The classifier on real failures: real sockets, a real redis-server and mosquitto, real HTTP
answers, real kernel errnos; each must land in the category an operator would expect."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import jsonschema
import pytest
from aiohttp import web
from pydantic import BaseModel

from health_checks.base import CheckKind, CheckResult
from supervisor.core.taxonomy import Category, Level, classify, classify_exception, fingerprint
from tests.support.helpers import free_port
from tests.support.servers import RedisServer


async def _raised(coro: object) -> BaseException:
    try:
        await coro  # type: ignore[misc]
    except BaseException as exc:  # noqa: BLE001 - the point is to catch what really comes
        return exc
    raise AssertionError("expected a failure")


async def test_refused_and_timeout_from_real_sockets() -> None:
    port = free_port()  # nothing listens there
    exc = await _raised(asyncio.open_connection("127.0.0.1", port))
    c = classify_exception(exc)
    assert (c.type, c.category) == ("connection_refused", Category.SERVICE_UNAVAILABLE)

    # A listener that accepts and never answers: a stall, not a refusal.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    try:
        async def read_forever() -> None:
            r, w = await asyncio.open_connection(*server.getsockname())
            try:
                await asyncio.wait_for(r.read(1), 0.2)
            finally:
                w.close()
        c = classify_exception(await _raised(read_forever()))
        assert (c.type, c.category) == ("service_timeout", Category.NETWORK_TIMEOUT)
    finally:
        server.close()


async def test_aiohttp_refused_and_http_status_codes() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]))

    app = web.Application()
    app.router.add_get("/{code}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession(raise_for_status=True) as s:
            seen = {}
            for code in (429, 503, 400):
                exc = await _raised(s.get(f"http://127.0.0.1:{port}/{code}"))
                seen[code] = classify_exception(exc).category
            assert seen == {429: Category.RATE_LIMIT_EXCEEDED,
                            503: Category.SERVICE_UNAVAILABLE,
                            400: Category.MALFORMED_REQUEST}
            exc = await _raised(s.get(f"http://127.0.0.1:{free_port()}/"))
            assert classify_exception(exc).type == "connection_refused"
    finally:
        await runner.cleanup()


def test_http_check_results_are_classified_by_status() -> None:
    def unhealthy(status: int) -> CheckResult:
        return CheckResult(CheckKind.UNHEALTHY, 3.0, f"answered HTTP {status}", "health",
                           "http", {"status": status})

    assert classify(unhealthy(429)).category is Category.RATE_LIMIT_EXCEEDED
    assert classify(unhealthy(502)).type == "server_error"
    # a critical service raises the severity, whatever the category
    assert classify(unhealthy(502), critical_service=True).severity == "critical"


async def test_redis_driver_errors(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis(port=redis_server.port, socket_timeout=0.3)
    try:
        await client.set("k", "v")
        exc = await _raised(client.lpush("k", "x"))  # WRONGTYPE: the data is not what we think
        assert classify_exception(exc).category is Category.SCHEMA_VIOLATION
        exc = await _raised(client.execute_command("NO_SUCH_COMMAND"))
        assert classify_exception(exc).category is Category.DATABASE_ERROR
    finally:
        await client.aclose()
    down = aioredis.Redis(port=free_port(), socket_connect_timeout=0.5)
    try:
        exc = await _raised(down.ping())
        c = classify_exception(exc)
        assert (c.type, c.level) == ("connection_refused", Level.SERVICE)
    finally:
        await down.aclose()


async def test_redis_stalled_by_sigstop_is_a_timeout(redis_server: RedisServer) -> None:
    import redis.asyncio as aioredis

    pid = redis_server.pid
    client = aioredis.Redis(port=redis_server.port, socket_timeout=0.3)
    try:
        await client.ping()
        os.kill(pid, signal.SIGSTOP)
        try:
            exc = await _raised(client.ping())
        finally:
            os.kill(pid, signal.SIGCONT)
        assert classify_exception(exc).category is Category.NETWORK_TIMEOUT
    finally:
        await client.aclose()


async def test_mqtt_broker_down() -> None:
    import aiomqtt

    async def connect() -> None:
        async with aiomqtt.Client("127.0.0.1", free_port(), timeout=1):
            pass

    c = classify_exception(await _raised(connect()))
    assert c.category in (Category.SERVICE_UNAVAILABLE, Category.CONNECTION_LOST)
    assert c.type in ("connection_refused", "connection_lost")


def test_sqlite_errors(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(sqlite3.IntegrityError) as e1:
        db.execute("INSERT INTO t VALUES (1)")
    assert classify_exception(e1.value).category is Category.CONSTRAINT_VIOLATION
    with pytest.raises(sqlite3.OperationalError) as e2:
        db.execute("SELECT * FROM missing")
    assert classify_exception(e2.value).category is Category.SCHEMA_VIOLATION
    db.close()


def test_validation_errors() -> None:
    with pytest.raises(jsonschema.ValidationError) as e1:
        jsonschema.validate({"status": 1}, {"properties": {"status": {"type": "string"}}})
    assert classify_exception(e1.value).category is Category.CONTRACT_VIOLATION

    class Body(BaseModel):
        target: str

    with pytest.raises(Exception) as e2:
        Body.model_validate({})
    assert classify_exception(e2.value).category is Category.VALIDATION_FAILED


def test_too_many_open_files_is_emfile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    opened: list[int] = []
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + 8, hard))
        with pytest.raises(OSError) as e:
            while True:
                opened.append(os.open("/dev/null", os.O_RDONLY))
        assert e.value.errno == errno.EMFILE
        c = classify_exception(e.value)
        assert (c.category, c.level) == (Category.FILE_DESCRIPTORS_EXHAUSTED, Level.SYSTEM)
    finally:
        for fd in opened:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_permission_denied_from_the_kernel(tmp_path: Path) -> None:
    """As an unprivileged user (root is never refused), opening a 0600 file of another."""
    secret = tmp_path / "secret"
    secret.write_text("x")
    secret.chmod(0o600)
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    code = "import sys\ntry:\n open(sys.argv[1])\nexcept OSError as e:\n print(e.errno)"
    if os.getuid() == 0:
        argv, kw = [python, "-c", code, str(secret)], {"user": 65534}
    else:
        secret.chmod(0o000)
        argv, kw = [sys.executable, "-c", code, str(secret)], {}
    out = subprocess.run(argv, capture_output=True, text=True, timeout=20, **kw).stdout.strip()
    assert out, "the kernel let the read through"
    exc = OSError(int(out), os.strerror(int(out)))
    assert exc.errno == errno.EACCES
    assert classify_exception(exc).category is Category.PERMISSION_DENIED


def test_disk_full_on_a_small_tmpfs(small_tmpfs: Path) -> None:
    with pytest.raises(OSError) as e:
        with open(small_tmpfs / "fill", "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
    assert e.value.errno == errno.ENOSPC
    c = classify_exception(e.value)
    assert (c.type, c.category, c.level) == ("disk_full", Category.DISK_EXHAUSTED, Level.SYSTEM)


def test_fingerprint_ignores_what_varies() -> None:
    a = fingerprint("api", "NETWORK_TIMEOUT",
                    "no answer from http://10.0.0.7:8080/health within 2000 ms (SE_1a2b3c4d)")
    b = fingerprint("api", "NETWORK_TIMEOUT",
                    "no answer from http://10.0.0.9:8081/health within 1500 ms (SE_ffee0011)")
    assert a == b
    assert a != fingerprint("other", "NETWORK_TIMEOUT",
                            "no answer from http://10.0.0.7:8080/health within 2000 ms")
    assert a != fingerprint("api", "CONNECTION_LOST",
                            "no answer from http://10.0.0.7:8080/health within 2000 ms")

