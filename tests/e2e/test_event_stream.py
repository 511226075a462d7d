"""GET /api/monitoring/events read by a real client across a real failure and recovery."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
from collections.abc import Iterator

from supervisor.cli.sse_client import ServerEvent, open_stream, parse
from tests.support.helpers import demo_service_config, free_port, read_pid, services_file, wait_for


def _events(resp: object, until: float) -> Iterator[ServerEvent]:
    for ev in parse(resp):  # type: ignore[arg-type]
        yield ev
        if time.monotonic() > until:
            raise AssertionError("stream did not deliver in time")


def test_state_change_streams_live_and_resumes_with_last_event_id(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "demo.pid"
    d = daemon_factory(services_file({"demo": demo_service_config(port, pid_file)}))
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")

    url = d.url + "/api/monitoring/events?heartbeat=1"
    seen: list[ServerEvent] = []
    with open_stream(url, timeout=20) as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        os.kill(read_pid(pid_file), signal.SIGKILL)
        deadline = time.monotonic() + 30
        for ev in _events(resp, deadline):
            seen.append(ev)
            if ev.event == "recovery_finished":
                break
    by_type = [ev.event for ev in seen if not ev.comment]
    failing = next(ev for ev in seen if ev.event == "state_changed"
                   and ev.json()["data"]["state"] == "failing")
    body = failing.json()
    assert body["service"] == "demo" and body["type"] == "state_changed"
    assert body["data"]["previous"] == "healthy"
    assert "SIGKILL" in body["data"]["reason"]
    assert body["correlationId"].startswith("inc_")
    healthy = [ev for ev in seen if ev.event == "state_changed"
               and ev.json()["data"]["state"] == "healthy"]
    assert healthy and healthy[0].json()["data"]["previous"] == "recovering"
    for expected in ("error_recorded", "recovery_started", "recovery_attempt"):
        assert expected in by_type, f"{expected} missing from {by_type}"
    error = next(ev for ev in seen if ev.event == "error_recorded").json()
    assert error["data"]["error"]["category"] == "PROCESS_EXITED"
    finished = next(ev for ev in seen if ev.event == "recovery_finished").json()
    assert finished["data"]["status"] == "succeeded"
    # Ids rise, every event has one, and all share the daemon's boot prefix.
    ids = [ev.id for ev in seen if not ev.comment]
    assert all(ids), ids
    boots = {i.rsplit("-", 1)[0] for i in ids}
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert len(boots) == 1 and numbers == sorted(numbers) and len(set(numbers)) == len(numbers)

    # Resume after the failing event: the client gets what followed it, nothing before.
    with open_stream(d.url + "/api/monitoring/events", last_event_id=failing.id,
                     timeout=10) as resp:
        replay: list[ServerEvent] = []
        for ev in _events(resp, time.monotonic() + 10):
            if ev.comment is None:
                replay.append(ev)
            if ev.id == seen[-1].id:
                break
    replayed = [int(ev.id.rsplit("-", 1)[1]) for ev in replay if ev.id]
    after = int(failing.id.rsplit("-", 1)[1])
    assert replayed and min(replayed) > after
    assert [ev.id for ev in replay if ev.id][-1] == seen[-1].id
    assert {"recovery_started", "recovery_finished"} <= {ev.event for ev in replay}


def test_heartbeats_keep_an_idle_stream_open_and_type_filter(daemon_factory, tmp_path):
    d = daemon_factory(services_file({"disk": {"checks": [{"type": "disk", "path": "/",
                                                           "maxUsagePercent": 100}],
                                               "interval": 5000, "autoRestart": False}}))
    heartbeats, results = 0, []
    with open_stream(d.url + "/api/monitoring/events?heartbeat=1&types=check_result",
                     timeout=10) as resp:
        for ev in _events(resp, time.monotonic() + 20):
            if ev.comment is not None:
                heartbeats += ev.comment.startswith("heartbeat")
            elif ev.event == "check_result":
                results.append(ev.json())
            else:
                raise AssertionError(f"asked only for check_result, got {ev.event}")
            if heartbeats >= 2 and results:
                break
    assert results[0]["service"] == "disk" and results[0]["data"]["type"] == "disk"
    assert results[0]["data"]["kind"] in ("healthy", "degraded")


def test_resume_from_an_earlier_run_asks_the_client_to_resync(daemon_factory, tmp_path):
    d = daemon_factory(services_file({}))
    with open_stream(d.url + "/api/monitoring/events", last_event_id="1-5",
                     timeout=10) as resp:
        first = next(ev for ev in parse(resp) if ev.comment is None)
    assert first.event == "resync"
    assert first.json()["lastEventId"] == -1
    try:
        open_stream(d.url + "/api/monitoring/events", last_event_id="abc", timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 422
        assert b"Last-Event-ID" in exc.read()
    else:
        raise AssertionError("a malformed Last-Event-ID must be refused")


def test_secrets_never_reach_the_stream(daemon_factory, tmp_path):
    port = free_port()  # nothing listens: the check fails and says where it tried
    svc = {"checks": [{"type": "http", "name": "userinfo",
                       "url": f"http://admin:hunter2@127.0.0.1:{port}/health"},
                      {"type": "http", "name": "bearer", "url": f"http://127.0.0.1:{port}/h",
                       "headers": {"Authorization": "Bearer sekrit-token-123"}}],
           "interval": 500, "errorThreshold": 1, "autoRestart": False}
    d = daemon_factory(services_file({"api": svc}))
    text = []
    with open_stream(d.url + "/api/monitoring/events?types=*,check_result&lastEventId=0",
                     timeout=15) as resp:
        for ev in _events(resp, time.monotonic() + 20):
            if ev.comment is None:
                text.append(ev.data)
            if ev.event == "error_recorded":
                break
    stream = "\n".join(text)
    assert "127.0.0.1" in stream and "api" in stream  # the failure is there...
    assert "hunter2" not in stream and "sekrit-token-123" not in stream  # ...its secrets not
