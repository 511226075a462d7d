"""The real @sentry/node (installed by scripts/test into tests/node) in a small Node service:
an unhandled promise rejection and an uncaught exception arrive with their stack frames, as
errors of that service, classified from their Node error codes and messages."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.support.helpers import ROOT, services_file, wait_for

NODE_DIR = ROOT / "tests" / "node"
NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed on this machine"),
    pytest.mark.skipif(not (NODE_DIR / "node_modules" / "@sentry" / "node").is_dir(),
                       reason="@sentry/node is not installed in tests/node (scripts/test "
                              "installs it with npm)"),
]


def _run(dsn: str, mode: str) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, str(NODE_DIR / "sdk_worker.mjs"), dsn, mode], cwd=NODE_DIR,
                          capture_output=True, text=True, timeout=30)


def _sdk(d) -> list[dict]:
    return [e for e in d.errors() if e["source"] == "sdk"]


@pytest.mark.timeout(90)
def test_node_rejection_and_uncaught_exception_arrive_with_frames(daemon_factory, tmp_path):
    d = daemon_factory(services_file({"orders": {}}))
    dsn = d.get("/api/monitoring/services/orders/dsn")[1]["dsn"]
    assert _run(dsn, "rejection").returncode == 0
    uncaught = _run(dsn, "uncaught")
    assert uncaught.returncode != 0  # Node exits on an uncaught exception, after sending
    assert _run(dsn, "capture").returncode == 0
    errors = wait_for(lambda: len(_sdk(d)) >= 4 and _sdk(d), timeout=20,
                      what="4 errors from @sentry/node")
    assert all(e["service"] == "orders" and e["release"] == "node-worker@2.0.0"
               for e in errors)

    rejected = [e for e in errors if "ECONNREFUSED" in e["message"]][0]
    assert rejected["category"] == "SERVICE_UNAVAILABLE" and rejected["severity"] == "high"
    full = d.get(f"/api/monitoring/errors/{rejected['id']}")[1]["context"]
    assert full["unhandled"] is True
    frames = full["exceptions"][-1]["frames"]
    assert any(f.get("function") == "fetchOrders" and f.get("in_app") for f in frames)

    crashed = [e for e in errors if e["message"].startswith("SyntaxError") and
               "bad gateway" not in e["message"] and e["severity"] in ("high", "critical")]
    assert crashed and crashed[0]["category"] == "CONTENT_PARSE_ERROR"
    ctx = d.get(f"/api/monitoring/errors/{crashed[0]['id']}")[1]["context"]
    assert any(f.get("function") == "parseReply" for f in ctx["exceptions"][-1]["frames"])

    handled = [e for e in errors if e["message"].startswith("SyntaxError") and
               e["severity"] == "medium"]  # captureException: handled, at error level
    assert handled and handled[0]["category"] == "CONTENT_PARSE_ERROR"
    warning = [e for e in errors if e["message"] == "cache warmup skipped 3 keys"][0]
    assert warning["severity"] == "low"
