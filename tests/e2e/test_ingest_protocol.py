"""The Sentry protocol as hand-written clients (and abusive ones) speak it, against the real
daemon: encodings, where the key comes from, answers the SDKs understand, limits, CORS, one
bad item that does not lose the rest, and a flood that gets 429s but loses nothing accepted."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
import zlib
from http.client import HTTPConnection
from typing import Any

import brotli
import pytest

from tests.support.helpers import http, services_file, wait_for

KEY = "feedfacefeedfacefeedfacefeedface"
OTHER = "0badc0de0badc0de0badc0de0badc0de"
ORIGIN = "http://app.example.test"


def _event(message: str = "boom", **extra: Any) -> dict[str, Any]:
    return {"event_id": uuid.uuid4().hex, "level": "error", "platform": "python",
            "exception": {"values": [{"type": "RuntimeError", "value": message,
                                      "mechanism": {"type": "generic", "handled": True},
                                      "stacktrace": {"frames": [
                                          {"module": "app.jobs", "function": "run",
                                           "lineno": 10, "in_app": True}]}}]}, **extra}


def envelope(*items: tuple[dict[str, Any], bytes], header: dict[str, Any] | None = None) -> bytes:
    out = [json.dumps(header or {}).encode()]
    for item_header, payload in items:
        out += [json.dumps(item_header).encode(), payload]
    return b"\n".join(out) + b"\n"


def event_item(event: dict[str, Any], with_length: bool = True) -> tuple[dict[str, Any], bytes]:
    payload = json.dumps(event).encode()
    return ({"type": "event", "length": len(payload)} if with_length else {"type": "event"},
            payload)


def auth(key: str = KEY) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7, sentry_client=t/1",
            "Content-Type": "application/x-sentry-envelope"}


def post(d, body: bytes, headers: dict[str, str], project: int = 7, path: str = "envelope",
         query: str = "") -> tuple[int, Any]:
    return http("POST", f"{d.url}/api/{project}/{path}/{query}", raw=body, headers=headers)


@pytest.fixture
def daemon(daemon_factory):
    services = {
        "api": {"errorReporting": {"projectId": 7, "keys": [KEY]}},
        "other": {"errorReporting": {"projectId": 8, "keys": [OTHER]}},
        "rotating": {},
        "small": {"errorReporting": {"projectId": 9, "keys": ["5a11" * 8],
                                     "rateLimit": 5, "burst": 20}},
    }
    return daemon_factory(services_file(services),
                          env={"SOULFRA_INGEST_CORS_ORIGINS": ORIGIN,
                               "SOULFRA_API_TOKEN": "admin-token-123",
                               "SOULFRA_INGEST_MAX_EVENT_BYTES": str(1024 * 1024)})


def _messages(d, service: str = "api") -> list[str]:
    rows = d.get(f"/api/monitoring/errors?since=1h&limit=1000&service={service}")[1]["errors"]
    return [e["message"] for e in rows]


@pytest.mark.timeout(60)
def test_encodings_and_key_sources_are_accepted(daemon):
    d = daemon
    gz = envelope(event_item(_event("gzip")))
    status, body = post(d, gzip.compress(gz), {**auth(), "Content-Encoding": "gzip"})
    assert status == 200 and len(body["id"]) == 32
    status, _ = post(d, zlib.compress(envelope(event_item(_event("deflate")))),
                     {"Content-Encoding": "deflate"}, query=f"?sentry_key={KEY}&sentry_version=7")
    assert status == 200
    status, _ = post(d, brotli.compress(envelope(event_item(_event("brotli")))),
                     {**auth(), "Content-Encoding": "br"})
    assert status == 200
    dsn_only = envelope(event_item(_event("dsn in header", )),
                        header={"dsn": f"http://{KEY}@127.0.0.1/7"})
    assert post(d, dsn_only, {"Content-Type": "text/plain;charset=UTF-8"})[0] == 200
    # @sentry/node streams without a Content-Length: chunked transfer encoding
    conn = HTTPConnection("127.0.0.1", d.port, timeout=5)
    chunks = iter([envelope(event_item(_event("chunked")))[i:i + 100]
                   for i in range(0, 2000, 100)])
    conn.request("POST", f"/api/7/envelope/?sentry_key={KEY}", body=(c for c in chunks if c),
                 headers={"Content-Type": "application/x-sentry-envelope"}, encode_chunked=True)
    assert conn.getresponse().status == 200
    conn.close()
    status, _ = post(d, json.dumps(_event("store endpoint")).encode(), auth(), path="store")
    assert status == 200
    got = wait_for(lambda: len(_messages(d)) >= 6 and _messages(d), what="6 errors")
    for word in ("gzip", "deflate", "brotli", "dsn in header", "chunked", "store endpoint"):
        assert f"RuntimeError: {word}" in got


@pytest.mark.timeout(60)
def test_wrong_keys_get_the_answers_sdks_expect_and_are_counted(daemon):
    d = daemon
    body = envelope(event_item(_event()))
    assert post(d, body, {})[0] == 401
    assert post(d, body, auth("no-such-key-0000000000"))[0] == 401
    assert post(d, body, auth(OTHER))[0] == 403  # another service's key on project 7
    _, dsn = d.get("/api/monitoring/services/rotating/dsn")
    old = dsn["keys"][0]
    assert post(d, body, auth(old), project=dsn["projectId"])[0] == 200
    assert d.post("/api/monitoring/services/rotating/dsn/rotate")[0] == 401  # needs the token
    status, new = d.post("/api/monitoring/services/rotating/dsn/rotate",
                         headers={"Authorization": "Bearer admin-token-123"})
    assert status == 200 and new["keys"] != [old] and new["projectId"] == dsn["projectId"]
    assert post(d, body, auth(old), project=dsn["projectId"])[0] == 403
    assert post(d, body, auth(new["keys"][0]), project=dsn["projectId"])[0] == 200
    counted = d.get("/api/monitoring/status")[1]["ingest"]["auth"]
    assert counted == {"missing_key": 1, "unknown_key": 1, "wrong_project": 1,
                       "revoked_key": 1}
    assert d.post("/api/monitoring/services/api/dsn/rotate",
                  headers={"Authorization": "Bearer admin-token-123"})[0] == 409


@pytest.mark.timeout(60)
def test_bad_input_is_400_with_a_reason_and_one_bad_item_loses_nothing_else(daemon):
    d = daemon
    assert post(d, b"not json\n{}", auth())[0] == 400
    status, body = post(d, envelope(({"type": "event"}, b"{not json")), auth())
    assert status == 400 and "not valid JSON" in body["detail"]
    status, body = post(d, envelope(event_item({**_event(), "event_id": "xyz"})), auth())
    assert status == 400 and "event_id" in body["detail"]
    status, body = post(d, envelope(event_item({**_event(), "level": 5})), auth())
    assert status == 400 and "level must be a string" in body["detail"]
    mixed = envelope(({"type": "event", "length": 5}, b"{bad}"),
                     ({"type": "attachment", "length": 3, "filename": "a.txt"}, b"abc"),
                     ({"type": "session"}, b'{"sid": "x", "status": "ok"}'),
                     ({"type": "client_report"}, json.dumps({"discarded_events": [
                         {"reason": "queue_overflow", "category": "error", "quantity": 3}]})
                      .encode()),
                     ({"type": "brand_new_type"}, b"whatever"),
                     event_item(_event("survivor")))
    raw = mixed.replace(b'{"type": "brand_new_type"}', b'{"type": ')  # a broken header too
    status, body = post(d, raw, auth())
    assert status == 200 and len(body["problems"]) == 3  # bad JSON, broken header, its payload
    assert "RuntimeError: survivor" in wait_for(lambda: _messages(d), what="the good event")
    items = d.get("/api/monitoring/status")[1]["ingest"]["items"]
    assert items["attachment"] == 1 and items["releaseHealth"] == 1 and items["client_dropped"] == 3


@pytest.mark.timeout(60)
def test_size_limits_and_a_compression_bomb_are_413_and_nothing_else_is_lost(daemon):
    d = daemon
    assert post(d, envelope(event_item(_event("before"))), auth())[0] == 200
    bomb = gzip.compress(b"\n" * (200 * 1024 * 1024), compresslevel=9)  # 200 MB in ~200 KB
    status, body = post(d, bomb, {**auth(), "Content-Encoding": "gzip"})
    assert status == 413 and "larger than" in body["detail"]
    big = _event("x" * 10)
    big["extra"] = {"blob": "y" * (10 * 1024 * 1024)}  # a 10 MB event
    status, body = post(d, gzip.compress(envelope(event_item(big))),
                        {**auth(), "Content-Encoding": "gzip"})
    assert status == 413 and "event larger than" in body["detail"]
    status, _ = post(d, json.dumps(big).encode(), auth(), path="store")
    assert status == 413
    assert post(d, envelope(event_item(_event("after"))), auth())[0] == 200
    got = wait_for(lambda: len(_messages(d)) >= 2 and _messages(d), what="before and after")
    assert {"RuntimeError: before", "RuntimeError: after"} <= set(got)
    daemon_rss = d.get("/api/monitoring/status")[1]["daemon"]["memory"]["rssBytes"]
    assert daemon_rss < 300 * 1024 * 1024  # the bomb was never inflated whole


@pytest.mark.timeout(60)
def test_cors_for_configured_browser_origins_only(daemon):
    d = daemon
    pre = http("OPTIONS", f"{d.url}/api/7/envelope/", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert pre[0] == 204
    conn = HTTPConnection("127.0.0.1", d.port, timeout=5)
    conn.request("OPTIONS", "/api/7/envelope/", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    resp = conn.getresponse()
    assert resp.getheader("Access-Control-Allow-Origin") == ORIGIN
    assert "POST" in resp.getheader("Access-Control-Allow-Methods")
    resp.read()
    # a browser SDK posts text/plain with the key in the query string (no preflight needed)
    conn.request("POST", f"/api/7/envelope/?sentry_key={KEY}", body=envelope(event_item(
        _event("from the browser"))), headers={"Origin": ORIGIN,
                                                 "Content-Type": "text/plain;charset=UTF-8"})
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Access-Control-Allow-Origin") == ORIGIN
    resp.read()
    conn.request("POST", f"/api/7/envelope/?sentry_key={KEY}", body=envelope(event_item(
        _event("evil"))), headers={"Origin": "http://evil.example.test",
                                   "Content-Type": "text/plain;charset=UTF-8"})
    resp = conn.getresponse()
    assert resp.status == 403 and resp.getheader("Access-Control-Allow-Origin") is None
    resp.read()
    conn.close()
    assert "RuntimeError: evil" not in wait_for(lambda: _messages(d), what="errors")


@pytest.mark.timeout(90)
def test_a_flood_gets_429_with_retry_after_and_loses_nothing_accepted(daemon):
    d = daemon
    small_key = "5a11" * 8
    answers: list[tuple[int, dict[str, str]]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for _ in range(40):
            conn = HTTPConnection("127.0.0.1", d.port, timeout=10)
            conn.request("POST", "/api/9/envelope/", body=envelope(event_item(_event(
                "flood"))), headers=auth(small_key))
            resp = conn.getresponse()
            resp.read()
            with lock:
                answers.append((resp.status, dict(resp.getheaders())))
            conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [a for a in answers if a[0] == 200]
    limited = [a for a in answers if a[0] == 429]
    assert len(ok) + len(limited) == 160 and len(ok) >= 20 and limited
    assert all(int(h["Retry-After"]) >= 1 and h["X-Sentry-Rate-Limits"].endswith("::key")
               for _, h in limited)

    def counted() -> int:
        groups = d.get("/api/monitoring/error-groups?service=small")[1]["groups"]
        return sum(g["count"] for g in groups)
    wait_for(lambda: counted() == len(ok), what=f"{len(ok)} accepted events counted")
    assert counted() == len(ok)  # exact, although after 20 only a sample is stored
    stored = len(_messages(d, "small"))
    assert 20 <= stored < len(ok) or stored == len(ok) <= 21
    assert d.get("/api/monitoring/status")[1]["ingest"]["rateLimited"] == len(limited)
