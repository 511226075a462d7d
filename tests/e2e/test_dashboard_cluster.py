"""The dashboard's cluster panel in headless Chromium: two nodes of one cluster on a real
redis-server; the panel lists both, and shows the other one lapsed, with its service unknown,
while it is stopped. A standalone daemon has no panel."""

from __future__ import annotations

import os
import signal

import pytest

from tests.support.alerts import listen, tcp_service
from tests.support.browser import CHROMIUM, only_loopback, shot
from tests.support.cluster import cluster_node
from tests.support.helpers import services_file, wait_for

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's chromium is not installed: scripts/test installs it with apt-get as root")


@pytest.mark.timeout(120)
def test_the_cluster_panel_shows_every_node_and_a_lapse(page, tmp_path, redis_server, listeners):
    from playwright.sync_api import expect

    nodes = []
    try:
        for name in ("a", "b"):
            cfg = services_file({f"{name}-db": tcp_service(listen(listeners, name),
                                                           interval=1000)})
            nodes.append(cluster_node(tmp_path, name, cfg, redis_server.url, ttl_s=3).start())
        a, b = nodes
        wait_for(lambda: all(n["alive"] for n in a.get("/api/monitoring/cluster")[1]["nodes"])
                 and len(a.get("/api/monitoring/cluster")[1]["nodes"]) == 2, timeout=20,
                 what="a sees a and b")
        only_loopback(page, a.url)
        page.goto(a.url + "/")
        row_b = page.locator('#cluster-nodes tr[data-node="b"]')
        expect(row_b).to_have_attribute("data-alive", "true", timeout=15000)
        expect(page.locator('#cluster-nodes tr[data-node="a"]')).to_contain_text("this node")
        expect(row_b.locator('.cluster-services .state[title="b-db"]')).to_have_attribute(
            "data-state", "healthy", timeout=15000)
        shot(page, tmp_path, "cluster-panel.png")

        assert b.proc is not None
        b.proc.send_signal(signal.SIGSTOP)
        expect(row_b).to_have_attribute("data-alive", "false", timeout=20000)
        expect(row_b).to_contain_text("lapsed")
        expect(row_b.locator(".cluster-services .state")).to_have_attribute(
            "data-state", "unknown")
        shot(page, tmp_path, "cluster-panel-lapsed.png")
        b.proc.send_signal(signal.SIGCONT)
    finally:
        for d in nodes:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGCONT)
            d.stop()


@pytest.mark.timeout(60)
def test_a_standalone_dashboard_has_no_cluster_panel(daemon_factory, page, listeners):
    d = daemon_factory(services_file({"db": tcp_service(listen(listeners, "db"))}))
    only_loopback(page, d.url)
    page.goto(d.url + "/")
    page.wait_for_function("document.body.dataset.ready === 'true'")
    page.locator('#services tr[data-service="db"]').wait_for()
    assert page.locator("#cluster").count() == 0
