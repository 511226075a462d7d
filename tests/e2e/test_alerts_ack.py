"""Escalation and acknowledgement through the real daemon: the escalation clock survives a
SIGKILL and restart; an acknowledgement (by the message's link, the API, the CLI) stops the
reminders and the later steps, says who and when, and "recovered" still goes out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.parse
from typing import Any

import pytest

from tests.support.alert_receiver import Receiver
from tests.support.alerts import alerts_of, listen, tcp_service
from tests.support.helpers import ROOT, http, kill_tree, services_file, wait_for

TOKEN = "api-token-for-acks-123"


def by_path(r: Receiver, name: str) -> list[dict[str, Any]]:
    return alerts_of([x for x in r.of("webhook", True) if x.path.endswith("/" + name)])


def escalating(r: Receiver, services: dict[str, Any]) -> dict[str, Any]:
    cfg = services_file(services)
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0, "reminderIntervalMs": 1500,
        "channels": [{"type": "webhook", "name": n, "url": r.url("webhook", n),
                      "minIntervalMs": 0} for n in ("chat", "mail", "phone")],
        "escalation": [{"services": ["*"], "steps": [
            {"afterMs": 0, "channels": ["chat"]},
            {"afterMs": 8000, "channels": ["mail"]},
            {"afterMs": 16000, "channels": ["phone"], "minSeverity": "critical"}]}]}
    return cfg


@pytest.mark.timeout(150)
def test_escalation_keeps_its_clock_across_a_restart_and_stops_at_the_ack_link(
        daemon_factory, receiver, listeners):  # noqa: F811
    port = listen(listeners, "db")
    cfg = escalating(receiver, {"db": tcp_service(port, critical=True)})
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false", "SOULFRA_API_TOKEN": TOKEN},
                       start=False)
    cfg["errorMonitoring"]["alerts"]["publicUrl"] = d.url
    d.config_path.write_text(json.dumps(cfg))
    d.start()
    wait_for(lambda: d.state("db") == "healthy", what="db healthy")
    listeners.pop("db").close()
    (page,) = wait_for(lambda: by_path(receiver, "chat"), what="the page on chat")
    paged_at = time.time()
    assert page["kind"] == "firing" and page["ackLink"].startswith(d.url)
    assert by_path(receiver, "mail") == [] and by_path(receiver, "phone") == []
    cid = page["correlationId"]
    state = d.get(f"/api/monitoring/incidents/{cid}/ack")[1]
    assert state["acknowledged"] is False and state["escalation"]["reached"] == ["chat"]
    assert [s["channels"] for s in state["escalation"]["upcoming"]] == [["mail"], ["phone"]]

    # SIGKILL, and stay down past the second step's time: the stored clock says it is due
    assert d.proc is not None
    kill_tree(d.proc.pid)
    d.proc.wait()
    time.sleep(max(0.0, paged_at + 10 - time.time()))
    d.start()
    ready = time.time()
    (escalated,) = wait_for(lambda: by_path(receiver, "mail"), timeout=15, what="escalated")
    arrived = [x.at for x in receiver.of("webhook") if x.path.endswith("/mail")][0]
    assert arrived - ready < 3.0, "the step was already due: it did not wait 8 s again"
    assert escalated["kind"] == "escalated" and escalated["correlationId"] == cid
    assert escalated["summary"].startswith("not acknowledged after ")
    assert escalated["title"].startswith("[ESCALATED] db:")

    # the link: GET shows a page and acknowledges nothing; POST acknowledges; once
    link = escalated["ackLink"]
    path = urllib.parse.urlsplit(link)
    status, page_html = http("GET", link)
    assert status == 200 and "<form method=post" in page_html
    assert d.get(f"/api/monitoring/incidents/{cid}/ack")[1]["acknowledged"] is False
    assert http("POST", d.url + path.path, {"by": "x"})[0] == 401, "no token, no link: refused"
    status, done = http("POST", link, raw=b"by=ana", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 200 and "acknowledged by ana" in done
    acked_at = time.time()
    assert http("POST", link, raw=b"by=bob", headers={
        "Content-Type": "application/x-www-form-urlencoded"})[0] == 410, "single use"
    state = d.get(f"/api/monitoring/incidents/{cid}/ack")[1]
    assert (state["acknowledged"], state["by"], state["via"]) == (True, "ana", "link")
    assert state["escalation"]["stopped"] == "acknowledged"
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    assert http("GET", forged)[0] == 403

    # no reminder and no phone step after the acknowledgement (the phone step was at 16 s)
    time.sleep(max(0.0, paged_at + 18 - time.time()))
    after = [x for x in receiver.of("webhook") if x.at > acked_at + 0.5]
    assert after == [], [a["kind"] for a in alerts_of(after)]
    assert by_path(receiver, "phone") == []
    listen(listeners, "db", port)
    wait_for(lambda: [a["kind"] for a in by_path(receiver, "chat")][-1:] == ["recovered"],
             what="recovered on chat")
    wait_for(lambda: [a["kind"] for a in by_path(receiver, "mail")][-1:] == ["recovered"],
             what="recovered on mail (it was reached)")
    assert by_path(receiver, "phone") == [], "never reached: no recovered either"


@pytest.mark.timeout(90)
def test_ack_by_api_and_cli(daemon_factory, receiver, listeners):  # noqa: F811
    ports = {n: listen(listeners, n) for n in ("a", "b")}
    cfg = escalating(receiver, {n: tcp_service(p) for n, p in ports.items()})
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false", "SOULFRA_API_TOKEN": TOKEN})
    wait_for(lambda: d.state("a") == "healthy" and d.state("b") == "healthy", what="healthy")
    listeners.pop("a").close()
    listeners.pop("b").close()
    pages = wait_for(lambda: len(by_path(receiver, "chat")) >= 2 and by_path(receiver, "chat"),
                     what="two pages")
    cid = {p["service"]: p["correlationId"] for p in pages}
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = f"/api/monitoring/incidents/{cid['a']}/ack"
    assert http("POST", d.url + url, {"by": "ana"})[0] == 401
    status, body = http("POST", d.url + url, {"by": "ana", "comment": "on it"}, headers=auth)
    assert status == 200 and body["by"] == "ana" and body["via"] == "api"
    assert body["alreadyAcknowledged"] is False and body["comment"] == "on it"
    status, again = http("POST", d.url + url, {"by": "bob"}, headers=auth)
    assert status == 200 and again["alreadyAcknowledged"] and again["by"] == "ana"
    status, bad = http("POST", d.url + url, {"by": "x" * 300}, headers=auth)
    assert status == 422 and bad["problems"][0]["field"] == "by"
    assert http("POST", d.url + "/api/monitoring/incidents/inc_nope/ack", {},
                headers=auth)[0] == 404
    out = subprocess.run([sys.executable, "-m", "supervisor", "ack", cid["b"], "--by", "cli-user",
                          "--url", d.url, "--token", TOKEN], cwd=ROOT, capture_output=True,
                         text=True, timeout=30, env=os.environ.copy())
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"incident {cid['b']} of b acknowledged by cli-user" in out.stdout
    state = d.get(f"/api/monitoring/incidents/{cid['b']}/ack")[1]
    assert (state["via"], state["by"]) == ("cli", "cli-user")
    listed = [a for a in d.get("/api/monitoring/alerts")[1]["alerts"]
              if a["correlationId"] == cid["a"]]
    assert listed and all(a["acknowledged"]["by"] == "ana" for a in listed)
    acked = time.time()
    time.sleep(3.5)  # two reminder intervals: nothing for either incident
    assert [x for x in receiver.of("webhook") if x.at > acked + 0.3] == []
    listen(listeners, "a", ports["a"])
    wait_for(lambda: "recovered" in [p["kind"] for p in by_path(receiver, "chat")],
             what="recovered still goes out after an ack")
