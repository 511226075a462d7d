"""Hostile input to the API (issue 13, items 7 and 8): a clear 4xx naming the problem, never a
500, a traceback, or a stored error of the daemon's own; and no cross-site mutations."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.support.helpers import http, services_file, wait_for

DEEP = b"[" * 32000 + b"]" * 32000  # 64,000 bytes: under the 64 KiB body limit
MUTATIONS = ("/api/monitoring/recover", "/api/monitoring/reload", "/api/monitoring/silences",
             "/api/monitoring/heartbeat/disk", "/api/monitoring/services/disk/pause")


def _config(tmp_path):
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": 1000}})


def _own_errors(d) -> list[dict]:
    return [e for e in d.errors() if e.get("service") == "soulfra-supervisor"]


def _assert_daemon_unhurt(d) -> None:
    """No 500 left a trace: no traceback in the log, no error of the daemon's own stored."""
    time.sleep(0.3)  # the self-error sink stores through the write queue
    assert "Traceback" not in d.log(), d.log()[-3000:]
    assert '"level": "ERROR"' not in d.log(), d.log()[-3000:]
    assert _own_errors(d) == []
    assert d.get("/api/monitoring/health")[0] == 200


@pytest.mark.timeout(60)
def test_bad_bodies_get_a_4xx_naming_the_problem(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path))
    for path in MUTATIONS:
        status, reply = d.post(path, raw=DEEP)
        assert status == 400, (path, status, reply)
        assert "nested 32000 deep" in reply["error"], reply
    # Not UTF-8 (a Latin-1 "é"), or UTF-16.
    status, reply = d.post("/api/monitoring/heartbeat/disk", raw=b'{"note": "caf\xe9"}')
    assert status == 400 and "not UTF-8" in reply["error"], reply
    status, reply = d.post("/api/monitoring/reload", raw='{"dryRun": true}'.encode("utf-16"))
    assert status == 400 and "UTF-16" in reply["error"], reply
    # A charset nobody knows (was a LookupError: 500).
    for path in MUTATIONS:
        status, reply = d.post(path, raw=b"{}",
                               headers={"Content-Type": "application/json; charset=bogus"})
        assert status == 415 and "charset" in reply["error"], (path, reply)
    # Numbers the standard decoder gets wrong: 5,000 digits, 1e400, NaN.
    big = b'{"action": "retry_failed", "target": "disk", "force": ' + b"9" * 5000 + b"}"
    status, reply = d.post("/api/monitoring/recover", raw=big)
    assert status == 400 and reply["field"] == "force" and "5000 digits" in reply["error"]
    status, reply = d.post("/api/monitoring/heartbeat/disk", raw=b'{"n": 1e400}')
    assert status == 400 and reply["field"] == "n", reply
    status, reply = d.post("/api/monitoring/heartbeat/disk", raw=b'{"n": NaN}')
    assert status == 400 and reply["field"] == "n", reply
    # An unpaired surrogate would fail later, when the silence is stored.
    silence = {"matchers": {"service": "disk"}, "end": "2h", "comment": "\\ud800"}
    status, reply = d.post("/api/monitoring/silences",
                           raw=json.dumps(silence).replace("\\\\", "\\").encode())
    assert status == 400 and reply["field"] == "comment", reply
    # Query parameters: 400 nines, Unicode digits, underscores.
    for query in ("since=" + "9" * 400, "since=" + "9" * 400 + "h", "since=%D9%A1h",
                  "limit=%D9%A1%D9%A2", "limit=1_0", "limit=%201"):
        paths = ("/api/monitoring/trends", "/api/monitoring/errors") if "since" in query \
            else ("/api/monitoring/errors", "/api/monitoring/alerts")
        for path in paths:
            status, reply = d.get(f"{path}?{query}")
            assert status == 422, (path, query, reply)
            assert reply["field"] in ("since", "limit"), reply
    _assert_daemon_unhurt(d)


@pytest.mark.timeout(60)
def test_duplicate_keys_are_refused_and_nothing_happens(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path))
    raw = b'{"action": "retry_failed", "target": "disk", "dryRun": true, "dryRun": false}'
    status, reply = d.post("/api/monitoring/recover", raw=raw)
    assert status == 400, reply
    assert reply["field"] == "dryRun" and "duplicate key" in reply["error"]
    assert d.service("disk")["recentRecoveries"] == []
    status, reply = d.post("/api/monitoring/services/disk/pause",
                           raw=b'{"reason": "a", "stop": false, "reason": "b"}')
    assert status == 400 and reply["field"] == "reason", reply
    assert d.service("disk")["status"] != "maintenance"


@pytest.mark.timeout(60)
def test_cross_site_mutations_are_refused(daemon_factory, tmp_path):
    """What a web page the operator has open could send, with no token configured."""
    d = daemon_factory(_config(tmp_path))
    pause = "/api/monitoring/services/disk/pause"
    # A form or fetch() without preflight: text/plain. Refused before anything happens.
    status, reply = d.post(pause, raw=b'{"reason": "csrf"}', headers={"Content-Type": "text/plain"})
    assert status == 415 and "application/json" in reply["error"], reply
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "http://127.0.0.1:1"}):
        for path in (*MUTATIONS, "/api/monitoring/services/disk/resume",
                     "/api/monitoring/incidents/x/ack"):
            status, reply = d.post(path, {}, headers=headers)
            assert status == 403, (path, headers, reply)
            assert "cross-site" in reply["error"]
        status, _ = d.post("/api/monitoring/recover", None, headers=headers)
        assert status == 403
    assert d.service("disk")["status"] != "maintenance"
    # Reading stays open; the daemon's own origin (the dashboard) and curl still work.
    status, _ = http("GET", d.url + "/api/monitoring/health", headers={"Origin": "http://evil"})
    assert status == 200
    status, reply = d.post(pause, {"reason": "planned"},
                           headers={"Origin": d.url, "Sec-Fetch-Site": "same-origin"})
    assert status == 200, reply
    status, reply = d.post("/api/monitoring/services/disk/resume")
    assert status == 200, reply


def _raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


@pytest.mark.timeout(60)
def test_malformed_http_is_the_clients_mistake(daemon_factory, tmp_path):
    d = daemon_factory(_config(tmp_path))
    requests = {
        "NUL in a header": b"GET /api/monitoring/health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
        "8 KB URL": b"GET /api/monitoring/health?" + b"a" * 8200 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        "raw UTF-8 in the path": "GET /api/monitoring/services/é HTTP/1.1\r\nHost: x\r\n\r\n"
                                 .encode(),
        "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
        "bad Content-Length": b"POST /api/monitoring/reload HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: -1\r\n\r\n",
    }
    for what, request in requests.items():
        answer = _raw_request(d.port, request)
        status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.") else b""
        assert status in (b"400", b"404", b"414", b"431"), (what, answer[:200])
    _assert_daemon_unhurt(d)


@pytest.mark.timeout(60)
def test_mqtt_payload_nested_deep_is_an_invalid_heartbeat(daemon_factory, mosquitto_server,
                                                          tmp_path):
    broker = f"mqtt://127.0.0.1:{mosquitto_server.port}"
    svc = {"interval": 5000, "checks": [
        {"type": "heartbeat", "period": 5000, "broker": broker, "topic": "t/worker/beat"}]}
    d = daemon_factory(services_file({"worker": svc}, strategies=["retry"]))
    import paho.mqtt.publish as publish

    def published_and_refused() -> bool:  # again until the listener has subscribed
        publish.single("t/worker/beat", b"[" * 100_000 + b"]" * 100_000, hostname="127.0.0.1",
                       port=mosquitto_server.port)
        time.sleep(0.3)
        return "invalid heartbeat on t/worker/beat" in d.log()

    wait_for(published_and_refused, timeout=15,
             what="the deep payload named as an invalid heartbeat")
    assert "nested 100000 deep" in d.log()
    assert "Traceback" not in d.log() and "RecursionError" not in d.log()
    assert _own_errors(d) == []
