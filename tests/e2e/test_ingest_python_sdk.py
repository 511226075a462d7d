"""The real sentry-sdk in a child service process reports to the daemon: what is stored, its
category, its group, and what was scrubbed; and a worker that throws in a loop is failed by
its `errors` check, restarted, and healthy again."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.alert_receiver import Receiver
from tests.support.helpers import ROOT, services_file, wait_for

WORKER = ROOT / "tests" / "support" / "sdk_worker.py"
KEY = "0123456789abcdef0123456789abcdef"


def _sdk_errors(d) -> list[dict]:
    return [e for e in d.errors() if e["source"] == "sdk"]


@pytest.mark.timeout(60)
def test_python_sdk_errors_arrive_classified_grouped_and_scrubbed(daemon_factory):
    d = daemon_factory(services_file({"billing": {"checks": [
        {"type": "errors", "window": 60000, "maxErrors": 100}]}}))
    status, dsn = d.get("/api/monitoring/services/billing/dsn")
    assert status == 200 and dsn["dsn"].endswith(f"127.0.0.1:{d.port}/{dsn['projectId']}")
    done = subprocess.run([sys.executable, str(WORKER), dsn["dsn"], "mix"], cwd=ROOT,
                          capture_output=True, text=True, timeout=40)
    assert done.returncode == 0, done.stderr
    errors = wait_for(lambda: len(_sdk_errors(d)) >= 4 and _sdk_errors(d),
                      what="4 errors from the SDK")
    by_message = {e["message"]: e for e in errors}
    assert all(e["service"] == "billing" and e["release"] == "worker@1.2.3" for e in errors)

    refused = by_message["ConnectionRefusedError: [Errno 111] Connection refused (postgres at "
                         "127.0.0.1:5999)"]
    assert (refused["category"], refused["type"]) == ("SERVICE_UNAVAILABLE",
                                                      "connection_refused")
    assert refused["severity"] == "high"  # unhandled in a thread: at least high

    unique = by_message["IntegrityError: UNIQUE constraint failed: users.email"]
    assert unique["category"] == "CONSTRAINT_VIOLATION"  # the unawaited asyncio task

    logged = by_message["nightly export failed: 12 rows skipped"]
    assert logged["severity"] == "medium" and logged["type"] == "reported_error"

    declined = by_message["ValueError: payment declined for ***"]  # card number masked
    full = d.get(f"/api/monitoring/errors/{declined['id']}")[1]
    frames = full["context"]["exceptions"][-1]["frames"]
    charge = [f for f in frames if f.get("function") == "charge"][-1]
    assert charge["in_app"] is True and charge["vars"]["password"] == "***"
    crumb = [b for b in full["context"]["breadcrumbs"] if b.get("category") == "auth"][0]
    assert crumb["data"]["Authorization"] == "***" and "abcdef123456" not in \
        crumb["message"]
    assert full["context"]["tags"]["shard"] == "eu-1"
    raw = json.dumps(d.get("/api/monitoring/errors?since=1h&limit=1000")[1]) + \
        (d.data_dir / "supervisor.db").read_bytes().decode("latin-1")
    for secret in ("hunter2-frame-secret", "4111 1111 1111 1111", "s3cr3t-bearer-token",
                   "abcdef123456"):
        assert secret not in raw

    # one group per problem, with the release counted
    status, group = d.get(f"/api/monitoring/error-groups/{refused['fingerprint']}")
    assert status == 200 and group["count"] == 1
    assert group["latestEvent"]["context"]["exceptions"][-1]["type"] == \
        "ConnectionRefusedError"
    assert group["releases"][0]["release"] == "worker@1.2.3"
    ingest = d.get("/api/monitoring/status")[1]["ingest"]
    assert ingest["accepted"] >= 4 and ingest["rejected"] == {}


def _loop_service(tmp: Path) -> dict:
    return {
        "interval": 300, "errorThreshold": 1, "autoRestart": True, "startupGrace": 3000,
        "errorReporting": {"projectId": 7, "keys": [KEY]},
        "checks": [{"type": "process", "pidFile": str(tmp / "loop.pid")},
                   {"type": "errors", "window": 3000, "maxUnhandled": 3}],
        "restart": {"command": [sys.executable, str(WORKER),
                                f"http://{KEY}@127.0.0.1:PORT/7", "loop", str(tmp)],
                    "pidFile": str(tmp / "loop.pid"), "autoStart": True, "stopOnExit": True,
                    "stopTimeout": 2000},
    }


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.mark.timeout(90)
def test_a_worker_throwing_in_a_loop_is_restarted_and_recovers(daemon_factory, tmp_path,
                                                               receiver):
    d = daemon_factory(services_file({}), start=False)
    svc = _loop_service(tmp_path)
    svc["restart"]["command"][2] = svc["restart"]["command"][2].replace("PORT", str(d.port))
    cfg = services_file({"worker": svc})
    cfg["errorMonitoring"]["alerts"] = {"fireOn": "failing", "groupWindowMs": 0, "channels": [
        {"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d.config_path.write_text(json.dumps(cfg))
    d.start()
    wait_for(lambda: (tmp_path / "restarted").exists(), what="the worker's first run")
    def recovered() -> bool:
        svc = d.service("worker")
        runs = svc["recentRecoveries"] + svc["storedRecoveries"]
        return any(r["status"] == "succeeded" for r in runs)
    wait_for(recovered,
             timeout=45, what="a successful recovery of the worker")
    wait_for(lambda: d.state("worker") == "healthy", timeout=20, what="worker healthy again")
    failed = [e for e in d.errors() if e["source"] == "check" and e["check"] == "errors"]
    assert failed
    assert "RuntimeError: queue consumer crashed on message" in failed[0]["message"]
    assert "in tick" in failed[0]["message"]  # the top in-app frame
    assert failed[0]["recovered"] is True
    # the page says which exception, where, how many; the all-clear says what fixed it
    sent = wait_for(lambda: len(receiver.of("webhook")) >= 2 and
                    [json.dumps(r.json) for r in receiver.of("webhook")],
                    what="firing and recovered alerts")
    firing = [t for t in sent if '"firing"' in t][0]
    assert "RuntimeError: queue consumer crashed on message" in firing and "in tick" in firing
    assert "maxUnhandled 3" in firing
    assert any('"recovered"' in t and "restart_command" in t for t in sent)
    # the SDK's own errors are stored too, grouped into one group however many came
    groups = d.get("/api/monitoring/error-groups?service=worker")[1]["groups"]
    crashed = [g for g in groups if g["message"].startswith("RuntimeError")]
    assert len(crashed) == 1 and crashed[0]["count"] >= 4


@pytest.mark.timeout(60)
def test_transactions_slow_queries_traces_and_cron_check_ins(daemon_factory):
    d = daemon_factory(services_file({"exporter": {"checks": [
        {"type": "heartbeat", "period": 600000, "maxRuntime": 30000}]}}))
    dsn = d.get("/api/monitoring/services/exporter/dsn")[1]["dsn"]
    done = subprocess.run([sys.executable, str(WORKER), dsn, "perf"], cwd=ROOT,
                          capture_output=True, text=True, timeout=40)
    assert done.returncode == 0, done.stderr
    perf = wait_for(lambda: d.get("/api/monitoring/performance")[1]["transactions"]
                    ["services"].get("exporter"), what="the transaction")
    slowest = perf["slowest"][0]
    assert slowest["name"] == "nightly-export" and slowest["durationMs"] >= 10
    queries = d.get("/api/monitoring/performance")[1]["transactions"]["slowQueries"]
    assert [q for q in queries if "WITH RECURSIVE" in q["description"]]  # the sqlite span
    assert not [q for q in queries if q["description"] == "SELECT 1"]  # fast: not slow
    # the error inside the transaction is in its trace
    timeout = wait_for(lambda: [e for e in d.errors() if e["source"] == "sdk"],
                       what="the error")[0]
    assert timeout["category"] == "NETWORK_TIMEOUT"
    status, trace = d.get(f"/api/monitoring/traces/{slowest['traceId']}")
    assert status == 200 and trace["services"] == ["exporter"]
    assert [e["id"] for e in trace["errors"]] == [timeout["id"]]
    assert trace["transactions"][0]["name"] == "nightly-export"
    assert d.get("/api/monitoring/traces/0123456789abcdef0123456789abcdef")[0] == 404
    # the failed check-in failed the heartbeat check at once (a failed job: a push signal)
    failed = wait_for(lambda: [e for e in d.errors() if e["source"] == "push"],
                      what="the failed job")[0]
    assert "cron monitor nightly-export reported error" in failed["message"]
    assert failed["service"] == "exporter" and d.state("exporter") != "healthy"
    monitors = d.get("/api/monitoring/status")[1]["ingest"]["checkIns"]["monitors"]
    assert monitors["exporter"]["status"] == "error"
