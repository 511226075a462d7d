"""The dashboard's pages in headless Chromium: a service's charts (a slope, a red bar), an
incident's timeline (attempts in order, their durations), an error group's stack trace, the
public status page without JavaScript, 1,000 services (load time printed, not asserted), and
axe-core (from the npm registry, installed by scripts/test) finding no serious violation.
Screenshots go to $SOULFRA_SCREENSHOTS when set (docs/screenshots)."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from typing import Any

import pytest

from tests.e2e.test_series_api import FAST, slope_config
from tests.support.browser import CHROMIUM, only_loopback, shot
from tests.support.helpers import (
    ROOT,
    demo_service_config,
    free_port,
    read_pid,
    services_file,
    wait_for,
)
from tests.support.slow_service import SlowService

AXE = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="no /usr/bin/chromium")


def axe(page: Any, what: str) -> list[dict[str, Any]]:
    """Serious and critical violations axe-core finds in the page as it is now."""
    assert AXE.exists(), "axe-core is missing: scripts/test installs it with npm"
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => { const r = await axe.run(document, "
                           "{resultTypes: ['violations']}); return r.violations.map(v => "
                           "({id: v.id, impact: v.impact, nodes: v.nodes.length, "
                           "target: v.nodes[0] && v.nodes[0].target}))}")
    print(f"axe {what}: {json.dumps(result)}")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def duration(ms: float) -> str:
    """The page's duration() (common.js), to compare what it shows with the API."""
    if ms < 1000:
        return f"{round(ms)} ms"
    s = ms / 1000
    if s < 90:
        return f"{s:.1f} s"
    return f"{s / 60:.1f} min"


@pytest.mark.timeout(180)
def test_service_page_shows_the_slope_and_a_red_bar(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    with SlowService() as svc:
        d = daemon_factory(slope_config(svc.url), env=FAST)
        wait_for(lambda: d.state("slope") == "healthy", what="slope healthy")
        for delay in (0.01, 0.06, 0.12, 0.2, 0.3):  # 5 s each: a 5 s bucket per step
            svc.delay_s = delay
            time.sleep(5)
        svc.failing = True
        wait_for(lambda: d.state("slope") in ("failing", "gave_up"), what="slope failing")
        only_loopback(page, d.url)
        page.goto(d.url + "/")
        page.click('#services a[href="/services/slope"]')
        expect(page.locator("#service-state")).to_have_text(re.compile("failing|gave_up"))
        page.click('#latency-section button[data-range="10m"]')
        # the section is drawn anew once the 10m series arrives: until then the 1h chart (two
        # 1-minute buckets) is still there, and a slow machine read that one
        expect(page.locator("#latency-section h3")).to_have_text("Response time, last 10m")
        expect(page.locator("#latency-section svg.latency polyline.line").first).to_be_visible()
        # every drawn average, left to right (a bucket without answers splits the line)
        drawn = page.evaluate("""() => [...document.querySelectorAll(
            '#latency-section svg.latency polyline.line, #latency-section svg.latency circle.dot')]
            .flatMap(e => e.tagName === 'circle' ? [[+e.getAttribute('cx'), +e.getAttribute('cy')]]
              : e.getAttribute('points').split(' ').map(p => p.split(',').map(Number)))
            .sort((a, b) => a[0] - b[0])""")
        heights = [y for _, y in drawn]
        assert len(heights) >= 4, drawn
        # SVG y grows downwards: a slower service draws its line higher, i.e. smaller y.
        assert heights[-1] < heights[0] - 40, heights
        expect(page.locator("#latency-section .threshold-label")).to_contain_text("150 ms")
        expect(page.locator("#latency-section rect.fail").first).to_be_attached()
        expect(page.locator("#errors-section rect.fail").first).to_be_attached()
        last_bar = page.locator("#uptime-section .bars .bar").last
        expect(last_bar).to_have_attribute("data-state", "down")
        assert "rgb(197, 48, 48)" == last_bar.evaluate("b => getComputedStyle(b).backgroundColor")
        shot(page, tmp_path, "service-charts.png")
        page.emulate_media(color_scheme="dark")
        shot(page, tmp_path, "service-charts-dark.png")
        page.emulate_media(color_scheme="light")
        assert axe(page, "service page") == []
        assert page.problems == []


@pytest.mark.timeout(180)
def test_incident_page_lists_the_attempts_in_order_with_their_durations(daemon_factory, page,
                                                                         tmp_path):
    from playwright.sync_api import expect

    with SlowService() as hook:
        port, pid_file = free_port(), tmp_path / "demo.pid"
        hook.repair_delay_s = 0.4
        demo = demo_service_config(port, pid_file, ladder=[
            {"strategy": "webhook", "url": hook.url + "/repair", "attempts": 2}, "restart"])
        d = daemon_factory(services_file({"demo": demo}))
        wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
        os.kill(read_pid(pid_file), signal.SIGKILL)
        wait_for(lambda: d.state("demo") in ("failing", "recovering"), what="demo down")
        wait_for(lambda: d.state("demo") == "healthy", timeout=60, what="demo recovered")
        wait_for(lambda: d.get("/api/monitoring/incidents?since=1h")[1]["incidents"],
                 what="incident listed")
        inc_id = d.get("/api/monitoring/incidents?since=1h")[1]["incidents"][0]["id"]
        wait_for(lambda: d.get(f"/api/monitoring/incidents/{inc_id}")[1]["status"] == "resolved",
                 what="incident resolved")
        # the service is healthy (and the incident resolved) during the restart's verification,
        # a moment before that attempt is stored as succeeded
        def attempts_stored() -> list[dict]:
            inc = d.get(f"/api/monitoring/incidents/{inc_id}")[1]
            return [i for i in inc["timeline"] if i["kind"] == "attempt"]

        attempts = wait_for(lambda: len(attempts_stored()) >= 3 and attempts_stored(),
                            what="the three attempts stored")
        inc = d.get(f"/api/monitoring/incidents/{inc_id}")[1]
        assert [(a["strategy"], a["attempt"], a["ok"]) for a in attempts] == [
            ("webhook", 1, False), ("webhook", 2, False), ("restart_command", 1, True)]
        assert all(a["durationMs"] >= 400 for a in attempts[:2]), attempts

        only_loopback(page, d.url)
        # The alerts' link (linkTemplate /?service=…&incident=…) opens the incident's page.
        page.goto(f"{d.url}/?service=demo&incident={inc_id}")
        expect(page).to_have_url(re.compile(f"/incidents/{inc_id}$"))
        rows = page.locator('#timeline li[data-kind="attempt"]')
        expect(rows).to_have_count(3)
        for row, a in zip(rows.all(), attempts, strict=True):
            expect(row).to_contain_text(f"{a['strategy']} attempt {a['attempt']}")
            expect(row.locator(".duration")).to_have_text(f" ({duration(a['durationMs'])})")
        kinds = page.locator("#timeline li").evaluate_all("els => els.map(e => e.dataset.kind)")
        assert kinds.index("first_failure") < kinds.index("declared") < kinds.index("attempt")
        assert kinds[-1] == "recovered" or "recovered" in kinds
        expect(page.locator("#downtime")).to_have_text(duration(inc["downtimeMs"]))
        expect(page.locator("#repair")).to_have_text(duration(inc["repairMs"]))
        expect(page.locator("#attempts")).to_have_text("3")
        page.locator("#timeline details").first.click()
        expect(page.locator("#timeline pre.ran").first).to_contain_text("POST")
        page.fill("#update-message", "Restarted after two failed repair calls.")
        page.click("#update-form button[type=submit]")
        expect(page.locator('#timeline li[data-kind="update"]')).to_contain_text("two failed")
        shot(page, tmp_path, "incident.png")
        assert axe(page, "incident page") == []
        assert page.problems == []


@pytest.mark.timeout(120)
def test_error_group_page_shows_a_stack_trace_and_resolves(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    disk = {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}], "interval": 2000}
    d = daemon_factory(services_file({"host-disk": disk}),
                       env={"SOULFRA_FAULT_INJECTION": "true"})
    code, _ = d.post("/api/monitoring/debug/faults", {"fault": "task_exception",
                                                      "message": "(glance)"})
    assert code == 200
    wait_for(lambda: d.get("/api/monitoring/error-groups")[1]["groups"], what="a group")
    only_loopback(page, d.url)
    page.goto(d.url + "/errors")
    row = page.locator("#groups tbody tr").filter(has_text="injected fault")
    expect(row).to_have_count(1)
    expect(row.locator("svg.spark")).to_be_attached()
    shot(page, tmp_path, "error-groups.png")
    assert axe(page, "error groups") == []
    row.locator("a").click()
    expect(page.locator("#stack")).to_contain_text("Traceback")
    expect(page.locator("#stack")).to_contain_text("_failing_task")
    expect(page.locator("#tags")).to_contain_text("category:")
    shot(page, tmp_path, "error-group.png")
    assert axe(page, "error group") == []
    page.click('button[data-status="resolved"]')
    expect(page.locator("#group-status")).to_have_text("resolved")
    fp = page.url.rsplit("/", 1)[1]
    group = next(g for g in d.get("/api/monitoring/error-groups?status=resolved")[1]["groups"]
                 if g["fingerprint"] == fp)
    assert group["status"] == "resolved"
    assert page.problems == []


@pytest.mark.timeout(150)
def test_status_page_without_javascript_shows_only_public_services(daemon_factory, browser,
                                                                    tmp_path):
    from playwright.sync_api import expect

    with SlowService() as svc:
        d = daemon_factory(slope_config(svc.url), env=FAST)
        wait_for(lambda: d.state("slope") == "healthy", what="slope healthy")
        svc.failing = True
        wait_for(lambda: d.state("slope") in ("failing", "gave_up"), what="slope failing")
        inc = d.get("/api/monitoring/incidents?since=1h")[1]["incidents"][0]
        d.post(f"/api/monitoring/incidents/{inc['id']}/updates",
               {"status": "investigating", "message": "Checkout is down; we are on it."})
        for name, viewport in (("status-page.png", {"width": 1100, "height": 800}),
                               ("status-page-phone.png", {"width": 390, "height": 844})):
            context = browser.new_context(java_script_enabled=False, viewport=viewport)
            pg = context.new_page()
            pg.problems = []
            only_loopback(pg, d.url)
            resp = pg.goto(d.url + "/status")
            assert resp is not None and "max-age" in resp.headers["cache-control"]
            expect(pg.locator("li.service")).to_have_count(1)
            expect(pg.locator('li.service[data-service="slope"]')).to_contain_text("Outage")
            expect(pg.locator(".overall")).to_contain_text("outage")
            expect(pg.locator(".incident.open")).to_contain_text("Checkout is down")
            assert pg.locator("text=private-disk").count() == 0
            assert pg.locator("button, form, input, textarea, select").count() == 0
            width = pg.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the page scrolls sideways at {viewport}"
            shot(pg, tmp_path, name)
            context.close()
        # With JavaScript: the same page, and axe-core's verdict on it (injecting axe needs
        # the page's Content-Security-Policy bypassed: it allows no inline script).
        context = browser.new_context(bypass_csp=True)
        pg = context.new_page()
        pg.goto(d.url + "/status")
        assert axe(pg, "status page") == []
        context.close()


@pytest.mark.timeout(300)
def test_a_thousand_services_render(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    disk = {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}],
            "interval": 30000, "public": True}
    d = daemon_factory(services_file({f"svc-{i:04d}": disk for i in range(1000)}))
    # 1,000 services on a machine shared with other suites: generous bounds, no timing asserted
    expect.set_options(timeout=60_000)
    page.set_default_timeout(60_000)
    wait_for(lambda: sum(1 for s in d.get("/api/monitoring/services")[1]["services"].values()
                         if s["status"] != "unknown") >= 1000, timeout=120,
             what="1,000 services checked")
    only_loopback(page, d.url)
    timings = {}
    for path, ready in (("/", "#services tbody tr"), ("/errors", "#groups"),
                        ("/services/svc-0500", "#uptime-section .bars .bar"),
                        ("/status", "li.service")):
        started = time.perf_counter()
        page.goto(d.url + path)
        expect(page.locator(ready).first).to_be_attached(timeout=30_000)
        page.wait_for_function("document.body.dataset.ready === 'true' || "
                               "!document.querySelector('script[src$=\"app.js\"]')")
        timings[path] = round((time.perf_counter() - started) * 1000)
    print(f"page load with 1,000 services (ms, load {os.getloadavg()[0]:.1f}): {timings}")
    (tmp_path / "timings.json").write_text(json.dumps(timings))
    page.goto(d.url + "/")
    expect(page.locator("#services tbody tr")).to_have_count(50)
    expect(page.locator("#services-count")).to_have_text("1000 of 1000 service(s)")
    page.fill("#services-filter", "svc-09")
    expect(page.locator("#services tbody tr")).to_have_count(50)
    expect(page.locator("#services-count")).to_have_text("100 of 1000 service(s)")
    names = "els => els.map(e => e.dataset.service)"
    first = page.locator("#services tbody tr").evaluate_all(names)
    page.click("#services-pager button:has-text('next')")
    expect(page.locator("#services-pager")).to_contain_text("page 2 of 2")
    second = page.locator("#services tbody tr").evaluate_all(names)
    assert len(second) == 50 and not set(first) & set(second), (first, second)
    assert all(n.startswith("svc-09") for n in first + second)
    page.fill("#services-filter", "")
    shot(page, tmp_path, "dashboard-1000.png")
    assert axe(page, "overview, 1,000 services") == []
    assert page.problems == []
