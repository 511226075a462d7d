"""The API of the real daemon: a token on every state-changing endpoint, bounded bodies, unknown
fields rejected."""

from __future__ import annotations

import json

from tests.support.helpers import services_file

TOKEN = "t0k3n-" + "x" * 26


def _disk(tmp_path):
    return services_file({"disk": {"checks": [{"type": "disk", "path": str(tmp_path)}],
                                   "interval": 1000}})


def test_token_guards_every_state_changing_endpoint(daemon_factory, tmp_path):
    d = daemon_factory(_disk(tmp_path), env={"SOULFRA_API_TOKEN": TOKEN})
    good = {"Authorization": f"Bearer {TOKEN}"}
    bad = {"Authorization": f"Bearer {TOKEN[:-1]}y"}
    recover = {"action": "retry_failed", "target": "disk"}
    for path, body in (("/api/monitoring/recover", recover), ("/api/monitoring/reload", None)):
        for headers in ({}, bad, {"Authorization": TOKEN}):
            status, reply = d.post(path, body, headers=headers)
            assert status == 401, (path, headers, reply)
            assert "token" in reply["error"]
        status, reply = d.post(path, body, headers=good)
        assert status in (200, 202), (path, reply)
    # reading needs no token (503 is the health answer while the retried service is not
    # healthy yet, not a refusal)
    status, health = d.get("/api/monitoring/health")
    assert status in (200, 503) and "disk" in health["services"], (status, health)


def test_bodies_are_bounded_and_unknown_fields_rejected(daemon_factory, tmp_path):
    d = daemon_factory(_disk(tmp_path))
    huge = json.dumps({"action": "retry_failed", "target": "disk",
                       "pad": "x" * 200_000}).encode()
    status, reply = d.post("/api/monitoring/recover", raw=huge)
    assert status == 413 and isinstance(reply, dict) and "error" in reply
    for path, body in (("/api/monitoring/recover",
                        {"action": "retry_failed", "target": "disk", "forse": True}),
                       ("/api/monitoring/reload", {"dryrun": True})):
        status, reply = d.post(path, body)
        assert status == 422, (path, reply)
        assert {"field": next(iter(set(body) - {"action", "target"})),
                "message": "unknown field"} in reply["problems"]
    status, reply = d.post("/api/monitoring/reload", raw=b"{not json")
    assert status == 400
