"""The daemon's own views: health reports on disk and over HTTP, status, performance, trends,
recent events and the per-service history."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.support.helpers import free_port, services_file, wait_for


def _svc(port: int) -> dict[str, Any]:
    return {"port": port, "checks": [{"type": "tcp"}], "interval": 200, "errorThreshold": 1,
            "ladder": ["retry"]}


def test_reports_status_performance_trends_events_and_history(daemon_factory) -> None:
    up_port, down_port = free_port(), free_port()
    listener = socket.socket()
    listener.bind(("127.0.0.1", up_port))
    listener.listen(64)
    try:
        d = daemon_factory(services_file({"up": _svc(up_port), "down": _svc(down_port)}),
                           env={"HEALTH_REPORT_FREQUENCY": "1000"})
        wait_for(lambda: d.errors(), what="the down service's error")

        # A report on disk (JSON and Markdown) and over HTTP, naming both services.
        def report() -> dict[str, Any] | None:
            status, body = d.get("/api/monitoring/reports/latest")
            return body if status == 200 and body["errors"]["total"] >= 1 else None

        r = wait_for(report, what="a report that saw the error")
        assert r["services"]["up"]["uptimePercent"] == 100.0
        assert r["services"]["down"]["uptimePercent"] == 0.0
        assert r["services"]["down"]["incidents"] == 1
        assert r["topErrorGroups"][0]["service"] == "down"
        reports = d.data_dir / "reports"
        assert json.loads((reports / "latest.json").read_text())["generatedAt"]
        md = (reports / "latest.md").read_text()
        assert "# Health report" in md and "| down |" in md
        assert list(reports.glob("health-*.md")) and list(reports.glob("health-*.json"))

        st = d.get("/api/monitoring/status")[1]
        assert st["daemon"]["memory"]["rssBytes"] > 10_000_000
        assert st["daemon"]["uptimeS"] >= 0 and st["daemon"]["openConnections"] >= 1
        assert st["requests"]["total"] >= 2 and st["requests"]["byStatus"]["2xx"] >= 1
        assert st["errors"]["last24hByCategory"]["SERVICE_UNAVAILABLE"] >= 1
        assert "lagMs" in st["selfwatch"]["eventLoop"] and st["store"]["writable"]

        perf = d.get("/api/monitoring/performance")[1]
        tcp = perf["checks"]["byType"]["tcp"]
        assert tcp["count"] >= 2 and tcp["maxMs"] >= tcp["p95Ms"] > 0
        assert perf["checks"]["slowest"][0]["durationMs"] == tcp["maxMs"]

        trends = d.get("/api/monitoring/trends?bucket=1h")[1]
        assert sum(b["byCategory"].get("SERVICE_UNAVAILABLE", 0) for b in trends["buckets"]) >= 1
        assert d.get("/api/monitoring/trends?bucket=90m")[0] == 422

        events = d.get("/api/monitoring/events/recent?type=state_changed")[1]["events"]
        assert any(e["service"] == "down" for e in events)
        assert all(e["type"] == "state_changed" for e in events)

        view = d.service("down")
        assert view["transitions"][-1]["to"] in ("failing", "recovering", "gave_up")
        assert any(t["to"] == "failing" for t in view["transitions"])
        assert view["lastResults"][0]["kind"] == "refused"
        assert view["recentErrors"][0]["service"] == "down"
    finally:
        listener.close()
