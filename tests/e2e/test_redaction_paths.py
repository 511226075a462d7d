"""Secrets fed through every path (stored errors, groups, events, status, reports, the log,
the log file, the database file) come out masked everywhere; and logging honours per-module
levels, routes stdlib loggers in, and rotates its file."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.helpers import free_port, services_file, wait_for

SECRETS = ("hunter2pass", "AKIAsecret77", "sekrettoken123", "webhooksecret999",
           "exceptionsecret55")


@pytest.mark.timeout(90)
def test_secrets_never_leave_the_daemon(daemon_factory, tmp_path: Path) -> None:
    port = free_port()  # nothing listens: the check fails and its URL lands in the error
    url = f"http://admin:hunter2pass@127.0.0.1:{port}/health?api_key=AKIAsecret77"
    # (aiohttp refuses credentials in the URL together with an Authorization header)
    svc = {"checks": [{"type": "http", "url": url},
                      {"type": "http", "name": "api", "url": f"http://127.0.0.1:{port}/api",
                       "headers": {"Authorization": "Bearer sekrettoken123"}}],
           "interval": 300, "errorThreshold": 1, "ladder": ["retry"]}
    log_file = tmp_path / "logs" / "supervisor.jsonl"
    d = daemon_factory(services_file({"leaky": svc}), env={
        "ERROR_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/webhooksecret999",
        "SOULFRA_FAULT_INJECTION": "true", "HEALTH_REPORT_FREQUENCY": "1000",
        "SOULFRA_LOG_FILE": str(log_file), "SOULFRA_LOG_LEVELS": "apscheduler=info",
        "SOULFRA_LOG_ROTATION": "1 KB", "SOULFRA_LOG_RETENTION": "50"})
    err = wait_for(lambda: next((e for e in d.errors() if e["service"] == "leaky"), None),
                   what="the failing check stored")
    assert "admin:***@" in err["message"] and "api_key=***" in err["message"]
    d.post("/api/monitoring/debug/faults",
           {"fault": "task_exception", "message": "password=exceptionsecret55"})
    wait_for(lambda: d.get("/api/monitoring/errors?level=system")[1]["errors"],
             what="the exception stored")
    wait_for(lambda: d.get("/api/monitoring/reports/latest")[0] == 200, what="a report")

    bodies = {path: json.dumps(d.get(path)[1]) for path in (
        "/api/monitoring/errors?limit=1000", f"/api/monitoring/errors/{err['id']}",
        "/api/monitoring/error-groups", "/api/monitoring/events/recent?limit=1000",
        "/api/monitoring/status", "/api/monitoring/services/leaky",
        "/api/monitoring/reports/latest", "/api/monitoring/performance",
        "/api/monitoring/health")}
    for e in d.get("/api/monitoring/errors?level=system")[1]["errors"]:
        bodies[e["id"]] = json.dumps(d.get(f"/api/monitoring/errors/{e['id']}")[1])
    assert "exceptionsecret55" not in bodies[e["id"]] and "password=***" in bodies[e["id"]]
    d.stop()
    files = {str(p): p.read_bytes() for p in (d.data_dir.rglob("*")) if p.is_file()}
    files.update({str(p): p.read_bytes() for p in log_file.parent.glob("*")})
    files["daemon stdout/stderr"] = d.log_path.read_bytes()
    assert any("reports" in name for name in files) and any(".db" in n for n in files)
    for secret in SECRETS:
        leaks = [where for where, text in bodies.items() if secret in text]
        leaks += [where for where, data in files.items() if secret.encode() in data]
        assert not leaks, f"{secret} leaked into {leaks}"

    # The file log: JSON lines, stdlib loggers under their own names at their own level,
    # rotated into several files.
    lines = [json.loads(line) for p in log_file.parent.glob("*")
             for line in p.read_text().splitlines() if line.strip()]
    assert any(rec["logger"].startswith("apscheduler") and rec["level"] == "INFO"
               for rec in lines), "apscheduler=info routes stdlib INFO lines in"
    assert not any(rec["level"] == "DEBUG" for rec in lines), "default level is info"
    assert any("traceback" in rec for rec in lines)
    assert len(list(log_file.parent.glob("*"))) >= 2, "rotation at 1 KB made several files"


def test_a_bad_log_level_refuses_to_start_and_names_it(daemon_factory) -> None:
    d = daemon_factory(services_file({}), env={"SOULFRA_LOG_LEVELS": "aiohttp=loud"},
                       start=False)
    d.start(wait=False)
    assert d.proc is not None
    code = d.proc.wait(timeout=20)
    time.sleep(0.1)
    assert code == 1 and "aiohttp" in d.log() and "loud" in d.log()
