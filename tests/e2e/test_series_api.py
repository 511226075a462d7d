"""The history behind the charts, the incident timeline and the public status page, through
the API of a real daemon watching a real HTTP service that slows down and then fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.support.helpers import ROOT, services_file, wait_for
from tests.support.slow_service import SlowService

FAST = {"SOULFRA_SERIES_RESOLUTION_S": "1"}


def slope_config(url: str) -> dict:
    return services_file({
        "slope": {"baseUrl": url, "healthCheckPath": "/health", "interval": 300,
                  "timeoutThreshold": 2000, "degradedThreshold": 150, "errorThreshold": 2,
                  "autoRestart": False, "public": True, "description": "the shop"},
        "private-disk": {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}],
                         "interval": 1000, "autoRestart": False},
    })


def degrade_then_fail(svc: SlowService, d) -> None:
    for delay in (0.01, 0.06, 0.12, 0.2, 0.3):
        svc.delay_s = delay
        time.sleep(2.2)
    svc.failing = True
    wait_for(lambda: d.state("slope") in ("failing", "gave_up"), timeout=20, what="failing")
    time.sleep(1.5)


@pytest.mark.timeout(120)
def test_series_incident_and_status_page(daemon_factory):
    with SlowService() as svc:
        d = daemon_factory(slope_config(svc.url), env=FAST)
        wait_for(lambda: d.state("slope") == "healthy", what="slope healthy")
        degrade_then_fail(svc, d)

        code, lat = d.get("/api/monitoring/services/slope/series?metric=latency&since=1m"
                          "&bucket=1s")
        assert code == 200, lat
        assert lat["degradedThresholdMs"] == 150
        assert lat["bucketMs"] == 1000
        answered = [p["avg"] for p in lat["points"] if p["avg"] is not None]
        assert len(answered) >= 8, lat["points"]
        third = len(answered) // 3
        early, late = answered[:third], answered[-third:]
        assert sum(late) / len(late) > sum(early) / len(early) + 100, answered
        assert max(p["max"] or 0 for p in lat["points"]) >= 290

        code, errs = d.get("/api/monitoring/services/slope/series?metric=errors&since=1m"
                           "&bucket=2s")
        assert code == 200
        assert any(p["rate"] == 100 for p in errs["points"][-3:]), errs["points"][-5:]
        assert sum(p["errors"] for p in errs["points"]) >= 1  # the incident's error

        code, up = d.get("/api/monitoring/services/slope/series?metric=uptime&since=1h"
                         "&bucket=1m")
        assert code == 200
        assert up["points"][-1]["state"] == "down", up["points"][-2:]
        assert up["uptime"] is not None and up["uptime"] < 100

        code, every = d.get("/api/monitoring/series?metric=uptime&since=24h&bucket=1h")
        assert code == 200 and set(every["services"]) == {"slope", "private-disk"}
        assert every["services"]["slope"]["uptime"] < 100
        assert "points" not in every["services"]["slope"]
        code, every = d.get("/api/monitoring/series?metric=uptime&since=24h&points=true"
                            "&service=slope")
        assert code == 200 and every["services"]["slope"]["points"][-1]["state"] == "down"
        code, every = d.get("/api/monitoring/series?since=10m&bucket=1m")
        assert code == 200 and every["services"]["slope"]["points"][-1]["start"] > 0

        for query, field in (("metric=nope", "metric"), ("bucket=7x", "bucket"),
                             ("since=31d&bucket=5s", "bucket"), ("since=40d", "since")):
            code, body = d.get(f"/api/monitoring/services/slope/series?{query}")
            assert code == 422 and body["field"] == field, (query, body)
        assert d.get("/api/monitoring/services/nobody/series")[0] == 404

        code, listed = d.get("/api/monitoring/incidents?since=1h")
        assert code == 200
        inc = next(i for i in listed["incidents"] if i["service"] == "slope")
        code, one = d.get(f"/api/monitoring/incidents/{inc['id']}")
        assert code == 200
        kinds = [i["kind"] for i in one["timeline"]]
        assert kinds.index("first_failure") < kinds.index("declared"), kinds
        assert one["firstFailureAt"] < one["declaredAt"]
        assert one["status"] == "open" and one["openForMs"] > 0

        code, bad = d.post(f"/api/monitoring/incidents/{inc['id']}/updates", {"message": ""})
        assert code == 422 and bad["problems"][0]["field"] == "message"
        assert d.post("/api/monitoring/incidents/inc_nope/updates",
                      {"message": "x"})[0] == 404
        code, note = d.post(f"/api/monitoring/incidents/{inc['id']}/updates",
                            {"status": "identified", "message": "The shop's database is full; "
                             "we are moving it."})
        assert code == 201 and note["status"] == "identified"

        out = subprocess.run([sys.executable, "-m", "supervisor", "status", "--url", d.url],
                             cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "COLUMNS": "200"})
        assert out.returncode == 1, out.stdout + out.stderr  # one of two services down
        row = next(ln for ln in out.stdout.splitlines() if "slope" in ln)
        assert re.search(r"[▁▂▃▄▅▆▇█]", row), out.stdout  # the latency sparkline
        assert re.search(r"\b\d{1,2}\.\d\d%", row), out.stdout  # uptime of 24 h, below 100 %
        assert "LAST 15 MIN" in out.stdout and "UP 24h" in out.stdout

        with urllib.request.urlopen(d.url + "/status", timeout=10) as resp:
            html = resp.read().decode()
            assert "public" in resp.headers["Cache-Control"]
            assert resp.headers["Content-Type"].startswith("text/html")
        assert 'data-service="slope"' in html and "the shop" in html
        assert "private-disk" not in html
        assert "database is full" in html and "Outage" in html
        assert "HTTP 500" not in html and svc.url not in html  # no check messages, no URLs
        for control in ("<button", "<form", "<input", "token"):
            assert control not in html.lower()
