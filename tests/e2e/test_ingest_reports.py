"""Errors without an SDK (POST /api/monitoring/errors) and the `dsn` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.helpers import ROOT, services_file, wait_for


@pytest.fixture
def daemon(daemon_factory):
    return daemon_factory(services_file({"sync": {}, "auth": {}}))


REPORT = {
    "category": "CONSTRAINT_VIOLATION", "severity": "high",
    "message": "duplicate user 42 on sync (token=abcdef123456)",
    "source": {"service": "sync", "module": "sync/users.ts", "function": "upsertUser",
               "line": 88, "stack": "Error: duplicate\n    at upsertUser (sync/users.ts:88)"},
    "database": {"query": "INSERT INTO users ...", "durationMs": 12},
    "request": {"method": "POST", "url": "/sync", "headers": {"Authorization": "Bearer xyz1234"}},
    "correlationId": "req-7f3a", "environment": {"version": "3.1.0", "name": "prod"},
}


@pytest.mark.timeout(60)
def test_json_reports_are_stored_like_sdk_errors(daemon):
    d = daemon
    status, body = d.post("/api/monitoring/errors", REPORT)
    assert status == 201 and body["category"] == "CONSTRAINT_VIOLATION"
    assert body["severity"] == "high" and body["accepted"] == 1
    batch = [{"message": "connect ECONNREFUSED 127.0.0.1:6379", "source": {"service": "auth"}},
             {"message": "token refresh failed", "source": {"service": "auth"},
              "level": "external", "handled": False}]
    status, many = d.post("/api/monitoring/errors", batch)
    assert status == 201 and many["accepted"] == 2
    assert many["errors"][0]["category"] == "SERVICE_UNAVAILABLE"  # classified when not told
    assert many["errors"][1]["severity"] == "high"  # unhandled

    errors = wait_for(lambda: len(d.errors()) >= 3 and d.errors(), what="3 reported errors")
    assert {e["source"] for e in errors} == {"api"}
    sync = [e for e in errors if e["service"] == "sync"][0]
    assert sync["correlationId"] == "req-7f3a" and "abcdef123456" not in sync["message"]
    full = d.get(f"/api/monitoring/errors/{sync['id']}")[1]
    assert full["context"]["extra"]["database"]["durationMs"] == 12
    assert "xyz1234" not in str(full)
    frame = full["context"]["exceptions"][0]["frames"][0]
    assert (frame["module"], frame["function"], frame["lineno"]) == ("sync/users.ts",
                                                                     "upsertUser", 88)
    assert d.get("/api/monitoring/errors?source=api&service=auth")[1]["summary"]["total"] == 2
    # the same report again is the same group
    d.post("/api/monitoring/errors", {**REPORT, "message": "duplicate user 43 on sync"})
    wait_for(lambda: d.get("/api/monitoring/error-groups?service=sync")[1]["groups"][0]
             ["count"] == 2, what="two reports in one group")


@pytest.mark.timeout(60)
def test_bad_reports_name_the_field_and_store_nothing(daemon):
    d = daemon
    status, body = d.post("/api/monitoring/errors", {"message": "x"})
    assert status == 422 and body["problems"][0]["field"] == "source"
    status, body = d.post("/api/monitoring/errors", [
        {"message": "ok", "source": {"service": "sync"}},
        {"message": "x", "source": {"service": "sync"}, "severity": "urgent"}])
    assert status == 422 and body["problems"][0]["field"] == "[1].severity"
    status, body = d.post("/api/monitoring/errors", {"message": "x", "source": {
        "service": "nope"}})
    assert status == 422 and body["field"] == "source.service"
    status, body = d.post("/api/monitoring/errors", {"message": "x", "source": {
        "service": "sync"}, "colour": "red"})
    assert status == 422 and body["problems"][0] == {"field": "colour",
                                                     "message": "unknown field"}
    status, _ = d.post("/api/monitoring/errors", raw=b"{not json")
    assert status == 400
    assert d.errors() == []


@pytest.mark.timeout(60)
def test_dsn_command_prints_and_rotates(daemon):
    d = daemon

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "supervisor", "dsn", *args, "--url", d.url],
                              cwd=ROOT, capture_output=True, text=True, timeout=20)
    first = cli("sync")
    assert first.returncode == 0
    dsn = first.stdout.strip()
    project = d.get("/api/monitoring/services/sync/dsn")[1]["projectId"]
    assert dsn.startswith("http://") and dsn.endswith(f"@127.0.0.1:{d.port}/{project}")
    assert cli("sync").stdout.strip() == dsn  # stable
    d.stop()
    d.start()  # same data directory: the same project id and key after a restart
    assert cli("sync").stdout.strip() == dsn
    rotated = cli("sync", "--rotate")
    assert rotated.returncode == 0 and rotated.stdout.strip() != dsn
    unknown = cli("nope")
    assert unknown.returncode == 1 and "unknown service" in unknown.stderr


@pytest.mark.timeout(60)
def test_with_a_token_a_service_reports_with_its_own_key(daemon_factory):
    key = "a11ce5a11ce5a11ce5a11ce5a11ce5a1"
    d = daemon_factory(services_file({"sync": {"errorReporting": {"keys": [key]}},
                                      "auth": {}}),
                       env={"SOULFRA_API_TOKEN": "admin-token-123"})
    report = {"message": "sync conflict", "source": {"service": "sync"}}
    assert d.post("/api/monitoring/errors", report)[0] == 401
    assert d.post("/api/monitoring/errors", report,
                  headers={"X-Sentry-Auth": "Sentry sentry_key=wrong-key-000000000"})[0] == 401
    status, _ = d.post(f"/api/monitoring/errors?sentry_key={key}", report)
    assert status == 201
    status, body = d.post(f"/api/monitoring/errors?sentry_key={key}",
                          {"message": "x", "source": {"service": "auth"}})
    assert status == 403 and body["field"] == "source.service"  # not its service
    assert d.post("/api/monitoring/errors", report,
                  headers={"Authorization": "Bearer admin-token-123"})[0] == 201
    assert wait_for(lambda: len(d.errors()) == 2, what="the two accepted reports")
