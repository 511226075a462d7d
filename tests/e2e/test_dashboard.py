"""The dashboard in headless Chromium (Debian's chromium driven by Playwright): live updates
over the event stream without reloads, the recover button with its dry-run plan, and the
warning when the stream drops. Screenshots go to the test's tmp dir (and to
$SOULFRA_SCREENSHOTS when set, e.g. docs/screenshots) for review."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from tests.support.browser import CHROMIUM, only_loopback, shot
from tests.support.helpers import demo_service_config, free_port, services_file, wait_for

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's chromium is not installed: scripts/test installs it with apt-get as root")


@pytest.mark.timeout(150)
def test_failure_shows_live_and_the_recover_button_repairs_it(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    port, pid_file = free_port(), tmp_path / "demo.pid"
    # No automatic restart and nothing else to try: the service is given up on at once and
    # stays on screen that way until the button repairs it.
    demo = demo_service_config(port, pid_file, autoRestart=False, interval=1000,
                               ladder=["restart"])
    disk = {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}],
            "interval": 2000, "autoRestart": False}
    d = daemon_factory(services_file({"demo": demo, "host-disk": disk}))
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    only_loopback(page, d.url)
    page.goto(d.url + "/")

    state = page.locator('#services tr[data-service="demo"] .state')
    expect(state).to_have_text("healthy")
    expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    expect(page.locator("#stream-warning")).to_be_hidden()
    # Check results stream in: the history strip grows without a reload.
    bars = page.locator('#services tr[data-service="demo"] .strip span')
    wait_for(lambda: bars.count() >= 3, what="history strip filling live")
    expect(page.locator('#services tr[data-service="demo"] .latency')).to_have_text(
        re.compile(r"\d+ ms"))
    page.evaluate("window.__notReloaded = true")
    shot(page, tmp_path, "dashboard-healthy.png")

    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    expect(state).to_have_text("gave_up")
    incident = page.locator('#incidents li[data-service="demo"]')
    expect(incident).to_be_visible()
    expect(incident).to_contain_text("SIGKILL")
    exited = page.locator("#errors li", has_text="PROCESS_EXITED")
    expect(exited).to_contain_text("demo")
    expect(exited).to_contain_text("pending")
    expect(page.locator("#overall")).not_to_have_text("healthy")
    assert page.evaluate("window.__notReloaded") is True, "the page must not reload"
    shot(page, tmp_path, "dashboard-failure.png")

    page.click('button.recover[data-service="demo"]')
    expect(page.locator("#recover-dialog")).to_be_visible()
    step = page.locator("#recover-plan li").first
    expect(step).to_contain_text("restart_command")
    expect(step).to_contain_text("then start")
    expect(page.locator("#recover-message")).to_contain_text("Nothing has been done")
    assert not d.get("/api/monitoring/health")[1]["services"]["demo"]["status"] == "healthy"
    shot(page, tmp_path, "dashboard-recover-dialog.png")

    page.click("#recover-confirm")
    expect(page.locator("#recover-message")).to_contain_text(re.compile(r"RC_\w+ started"))
    expect(state).to_have_text("healthy", timeout=40_000)
    done = page.locator('#recoveries li[data-status="succeeded"]').first
    expect(done).to_contain_text("demo")
    expect(done).to_contain_text("dashboard")  # X-Requested-By, stored with the recovery
    expect(incident).to_have_count(0)
    expect(exited).to_contain_text("recovered")
    expect(page.locator("#overall")).to_have_text("healthy")
    expect(page.locator("#recover-dialog")).to_be_hidden()  # it closes by itself after a run
    assert page.evaluate("window.__notReloaded") is True, "the page must not reload"
    shot(page, tmp_path, "dashboard.png")
    assert page.problems == []


@pytest.mark.timeout(120)
def test_warning_while_the_stream_is_down_and_recovery_after(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    disk = {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}],
            "interval": 1000, "autoRestart": False}
    d = daemon_factory(services_file({"host-disk": disk}))
    only_loopback(page, d.url)
    page.goto(d.url + "/")
    warning = page.locator("#stream-warning")
    state = page.locator('#services tr[data-service="host-disk"] .state')
    expect(state).to_have_text(re.compile("healthy|degraded"))
    expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    expect(warning).to_be_hidden()

    started = time.monotonic()
    assert d.stop() == 0, "SIGTERM with a browser connected must still exit cleanly"
    assert time.monotonic() - started < 10, "an open event stream must not hold up shutdown"
    expect(warning).to_be_visible()
    expect(page.locator("#live")).to_have_text("disconnected")
    shot(page, tmp_path, "dashboard-disconnected.png")

    d.start()  # same port: the browser reconnects by itself and resyncs
    expect(warning).to_be_hidden(timeout=30_000)
    expect(page.locator("#live")).to_have_attribute("data-connected", "true")
    expect(state).to_have_text(re.compile("healthy|degraded"))
    assert page.problems == []


@pytest.mark.timeout(120)
def test_recover_asks_for_the_api_token_when_the_daemon_has_one(daemon_factory, page, tmp_path):
    from playwright.sync_api import expect

    disk = {"checks": [{"type": "disk", "path": "/", "maxUsagePercent": 100}],
            "interval": 1000, "autoRestart": False}
    d = daemon_factory(services_file({"host-disk": disk}),
                       env={"SOULFRA_API_TOKEN": "correct-horse-battery"})
    only_loopback(page, d.url)
    page.goto(d.url + "/")
    page.click('button.recover[data-service="host-disk"]')
    token = page.locator("#recover-token")
    expect(token).to_be_visible()  # the dry run was refused without it
    expect(page.locator("#recover-message")).to_contain_text("API token")
    expect(page.locator("#recover-confirm")).to_be_disabled()

    page.select_option("#recover-action", "retry_failed")
    token.fill("wrong")
    token.dispatch_event("change")
    expect(page.locator("#recover-message")).to_contain_text("API token")
    token.fill("correct-horse-battery")
    token.dispatch_event("change")
    expect(page.locator("#recover-plan li").first).to_contain_text("retry_failed")
    page.click("#recover-confirm")
    expect(page.locator("#recover-message")).to_contain_text(re.compile(r"RC_\w+ started"))
    done = page.locator('#recoveries li[data-status="succeeded"]').first
    expect(done).to_contain_text("host-disk")
    assert page.problems == []
