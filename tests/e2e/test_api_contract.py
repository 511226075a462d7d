"""The three SPEC shapes, and the 400/404/422 bodies, against a running daemon."""

from __future__ import annotations

import pytest

from tests.support.helpers import demo_service_config, free_port, http, services_file, wait_for


@pytest.fixture
def daemon(daemon_factory, tmp_path):
    port = free_port()
    cfg = services_file({
        "web": demo_service_config(port, tmp_path / "web.pid"),
        "disk": {"checks": [{"type": "disk", "path": str(tmp_path)}], "interval": 1000},
    })
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("web") == "healthy" and d.state("disk") == "healthy",
             what="services healthy")
    return d


def test_health_shape(daemon):
    status, body = daemon.get("/api/monitoring/health")
    assert status == 200
    assert body["status"] in ("healthy", "degraded", "critical")
    assert set(body) >= {"status", "services", "recentErrors", "autoRecoveries", "uptime"}
    web = body["services"]["web"]
    assert web["status"] == "healthy" and isinstance(web["responseTime"], int)
    assert isinstance(body["recentErrors"], int) and isinstance(body["autoRecoveries"], int)
    assert body["uptime"].endswith("%") and 0 <= float(body["uptime"][:-1]) <= 100


def test_errors_shape_and_since(daemon):
    status, body = daemon.get("/api/monitoring/errors?since=1h")
    assert status == 200
    assert body["errors"] == [] or set(body["errors"][0]) >= {
        "id", "type", "severity", "service", "message", "recovered", "recoveryTime"}
    assert set(body["summary"]) == {"total", "recovered", "pending", "failed"}
    for since in ("30s", "15m", "7d", "2026-01-01T00:00:00Z"):
        assert daemon.get(f"/api/monitoring/errors?since={since}")[0] == 200
    status, body = daemon.get("/api/monitoring/errors?since=yesterday")
    assert status == 422 and body["field"] == "since"


def test_recover_answers_202_and_progress_is_readable(daemon):
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "web", "force": False})
    assert status == 202
    rid = body["id"]
    assert rid.startswith("RC_") and body["location"] == f"/api/monitoring/recoveries/{rid}"
    done = wait_for(lambda: (r := daemon.get(body["location"])[1])["status"] == "succeeded"
                    and r, timeout=20, what="manual restart done")
    assert done["action"] == "restart_service" and done["attempts"][0]["ok"] is True
    assert daemon.state("web") == "healthy"


def test_two_concurrent_recovers_start_one_recovery(daemon):
    a = daemon.post("/api/monitoring/recover", {"action": "restart_service", "target": "web"})
    b = daemon.post("/api/monitoring/recover", {"action": "restart_service", "target": "web"})
    assert a[0] == b[0] == 202
    assert a[1]["id"] == b[1]["id"] and b[1]["alreadyRunning"] is True


def test_recover_errors_are_json_and_name_the_field(daemon):
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "nope"})
    assert status == 404 and body["field"] == "target" and "nope" in body["error"]
    status, body = daemon.post("/api/monitoring/recover", {"action": "explode", "target": "web"})
    assert status == 422 and body["field"] == "action"
    assert body["allowed"] == ["reconnect_redis", "restart_service", "retry_failed",
                               "run_ladder"]
    status, body = daemon.post("/api/monitoring/recover", {"action": "restart_service"})
    assert status == 422 and body["problems"][0]["field"] == "target"
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "web", "force": "maybe"})
    assert status == 422 and body["problems"][0]["field"] == "force"
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "web", "extra": 1})
    assert status == 422 and body["problems"][0] == {"field": "extra",
                                                     "message": "unknown field"}
    status, body = http("POST", daemon.url + "/api/monitoring/recover", raw=b"{not json")
    assert status == 400 and "JSON" in body["error"]
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "disk"})
    assert status == 409 and "no step for restart_service" in body["error"]


def test_unknown_paths_are_json_404(daemon):
    for path in ("/api/monitoring/recoveries/RC_00000000", "/api/monitoring/nothing",
                 "/api/monitoring/errors/SE_00000000", "/api/monitoring/services/none"):
        status, body = daemon.get(path)
        assert status == 404 and isinstance(body, dict) and body["status"] == 404, path


def test_dry_run_plans_without_acting(daemon, tmp_path):
    pid_before = (tmp_path / "web.pid").read_text()
    status, body = daemon.post("/api/monitoring/recover",
                               {"action": "restart_service", "target": "web", "dryRun": True})
    assert status == 200 and body["status"] == "dry_run"
    assert body["plan"][0]["strategy"] == "restart_command"
    assert (tmp_path / "web.pid").read_text() == pid_before
