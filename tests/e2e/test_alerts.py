"""Alerts from the real daemon to the local receiver: who gets paged when, what the message
says, and that nothing is lost or sent twice across an outage and a SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC
from typing import Any

import pytest

from tests.support.alert_receiver import discord_problems, slack_problems
from tests.support.alerts import alerts_of, listen, tcp_service
from tests.support.helpers import (
    DEMO,
    ROOT,
    demo_service_config,
    free_port,
    http,
    kill_tree,
    read_pid,
    services_file,
    wait_for,
)


def _kinds(received: list[Any], platform: str) -> list[str]:
    """The alert kinds in Slack/Discord messages, read from their titles."""
    words = {"[FIRING]": "firing", "[RECOVERED]": "recovered", "[SELF-HEALED]": "self_healed",
             "[GAVE UP]": "gave_up", "[STILL DOWN]": "reminder", "[FLAPPING]": "flapping"}
    out = []
    for r in received:
        titles = [e["title"] for e in r.json["embeds"]] if platform == "discord" else \
            [line for line in r.json["text"].splitlines() if line.startswith("[")]
        for t in titles:
            out += [k for w, k in words.items() if t.startswith(w)]
    return out


@pytest.mark.timeout(120)
def test_self_heal_pages_nobody_but_a_failed_repair_fires_then_recovers(
        daemon_factory, receiver, tmp_path):
    port, pid_file, marker = free_port(), tmp_path / "demo.pid", tmp_path / "can-start"
    marker.touch()
    svc = demo_service_config(port, pid_file, errorThreshold=1)
    # starts only when the marker exists; otherwise creates it and fails (so attempt 2 works)
    svc["restart"]["command"] = [
        f"if [ -e {marker} ]; then exec {sys.executable} {DEMO} --port {port}; "
        f"else touch {marker}; exit 1; fi"]
    svc["restart"]["shell"] = True
    cfg = services_file({"demo": svc}, initialDelay=300, jitter=0, startupGrace=3000)
    cfg["errorMonitoring"]["alerts"] = {
        "groupWindowMs": 300, "publicUrl": "https://ops.example.com",
        "channels": [{"type": "slack", "url": receiver.url("slack")},
                     {"type": "discord", "name": "team-info", "url": receiver.url("discord"),
                      "minSeverity": "info"},
                     {"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")

    # 1. a crash repaired by the first restart: info for the channel that asked, no page
    os.kill(read_pid(pid_file), signal.SIGKILL)
    wait_for(lambda: "self_healed" in _kinds(receiver.of("discord"), "discord"), timeout=20,
             what="self-healed report on the info channel")
    time.sleep(1.0)
    assert receiver.of("slack") == [] and receiver.of("webhook") == [], "nobody paged"
    healed = receiver.of("discord")[-1].json["embeds"][0]
    facts = {f["name"]: f["value"] for f in healed["fields"]}
    assert facts["Fixed by"] == "restart_command (attempt 1)" and "Downtime" in facts

    # 2. the first restart fails: firing, then recovered with downtime and what fixed it
    marker.unlink()
    killed = time.time()
    os.kill(read_pid(pid_file), signal.SIGKILL)
    wait_for(lambda: _kinds(receiver.of("slack"), "slack") == ["firing", "recovered"],
             timeout=30, what="firing then recovered on slack")
    slack = [r.json for r in receiver.of("slack")]
    for payload in slack:
        assert slack_problems(payload) == []
    firing_text, recovered_text = slack[0]["text"], slack[1]["text"]
    assert "automatic recovery did not fix it" in firing_text
    assert "restart_command #1: failed" in firing_text
    assert "Category: PROCESS_EXITED (process_exited)" in firing_text
    assert "Fixed by: restart_command (attempt 2)" in recovered_text
    assert "Downtime:" in recovered_text
    blocks = slack[0]["attachments"][0]["blocks"]
    assert blocks[-1]["elements"][0]["url"].startswith("https://ops.example.com/?service=demo")
    wait_for(lambda: len(alerts_of(receiver.of("webhook"))) >= 2, what="webhook copies")
    hook = alerts_of(receiver.of("webhook"))
    assert [a["kind"] for a in hook] == ["firing", "recovered"]
    assert hook[0]["correlationId"] == hook[1]["correlationId"]
    assert hook[1]["downtimeMs"] > 0 and hook[1]["fixedBy"] == "restart_command (attempt 2)"
    wait_for(lambda: _kinds(receiver.of("discord"), "discord") ==
             ["self_healed", "firing", "recovered"], what="all three on discord (paced)")
    for r in receiver.of("discord"):
        assert discord_problems(r.json) == []
    # time from the state change behind each message to its arrival
    arrived = {a["kind"]: r.at for r in receiver.of("webhook") for a in r.json["alerts"]}
    for a in hook:
        lag = arrived[a["kind"]] - a["eventAt"] / 1000
        print(f"\nLATENCY {a['kind']}: state change -> webhook {lag * 1000:.0f} ms "
              f"(kill -> arrival {(arrived[a['kind']] - killed) * 1000:.0f} ms)")
        assert lag < 10
    listing = d.get("/api/monitoring/alerts")[1]
    assert {a["status"] for a in listing["alerts"]} == {"sent"}
    assert listing["delivery"] == "ok" and listing["outboxDepth"] == 0
    assert d.get("/api/monitoring/health")[1]["alertDelivery"] == "ok"


@pytest.mark.timeout(90)
def test_gave_up_is_critical_and_goes_out_at_once(daemon_factory, receiver, tmp_path):
    svc = demo_service_config(free_port(), tmp_path / "broken.pid", interval=500,
                              ladder=["restart"])
    svc["restart"]["command"] = [sys.executable, str(DEMO), "--fail-start"]
    svc["restart"]["autoStart"] = False
    cfg = services_file({"broken": svc}, maxAttempts=2, initialDelay=200, jitter=0,
                        startupGrace=1000)
    cfg["errorMonitoring"]["alerts"] = {"groupWindowMs": 5000, "channels": [
        {"type": "webhook", "url": receiver.url("webhook"), "minSeverity": "critical"}]}
    d = daemon_factory(cfg)
    wait_for(lambda: alerts_of(receiver.of("webhook")), timeout=40, what="gave-up alert")
    (alert,) = alerts_of(receiver.of("webhook"))
    assert alert["kind"] == "gave_up" and alert["severity"] == "critical"
    assert [a["ok"] for a in alert["recovery"]] == [False, False]
    # critical skips the 5 s grouping window
    assert receiver.of("webhook")[0].at - alert["eventAt"] / 1000 < 3
    kinds = {a["kind"]: a["status"] for a in d.get("/api/monitoring/alerts")[1]["alerts"]}
    assert kinds["firing"] == "no_channel", "high-severity firing: no channel wanted it"


@pytest.mark.timeout(120)
def test_outage_and_sigkill_lose_nothing_and_repeat_nothing(daemon_factory, receiver,
                                                            listeners):
    ports = {n: listen(listeners, n) for n in ("s1", "s2", "s3")}
    cfg = services_file({n: tcp_service(p) for n, p in ports.items()})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0,
        "delivery": {"initialDelayMs": 300, "maxDelayMs": 1000},
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "maxBatch": 1,
                      "minIntervalMs": 0}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: all(d.state(n) == "healthy" for n in ports), what="all healthy")
    listeners.pop("s1").close()
    wait_for(lambda: alerts_of(receiver.of("webhook", True)), what="s1 firing delivered")

    receiver.mode("webhook", (503, {}, "receiver down"))
    listeners.pop("s2").close()
    listeners.pop("s3").close()
    listen(listeners, "s1", ports["s1"])
    listing = wait_for(lambda: (b := d.get("/api/monitoring/alerts")[1])["outboxDepth"] >= 3
                       and b, timeout=20, what="three alerts queued")
    health = wait_for(lambda: (h := d.get("/api/monitoring/health")[1])["alertDelivery"] ==
                      "degraded" and h, what="health shows delivery degraded")
    assert health["status"] in ("degraded", "critical")
    assert "503" in listing["lastDeliveryError"]
    status = d.get("/api/monitoring/status")[1]["alerts"]
    assert status["outboxDepth"] >= 3 and "503" in status["lastDeliveryError"]
    assert status["channels"]["webhook"]["status"] == "failing"
    queued = {a["id"]: a for a in listing["alerts"] if a["status"] == "queued"}
    assert len(queued) == 3
    refused_while_down = len(receiver.of("webhook")) - len(receiver.of("webhook", True))

    assert d.proc is not None
    kill_tree(d.proc.pid)  # SIGKILL: no goodbye, nothing flushed
    d.proc.wait()
    receiver.mode("webhook", None)
    d.start()
    wait_for(lambda: set(queued) <= {a["id"] for a in alerts_of(receiver.of("webhook", True))},
             timeout=30, what="queued alerts delivered after the restart")
    time.sleep(1.0)
    acked = [a for a in alerts_of(receiver.of("webhook", True))]
    ids = [a["id"] for a in acked]
    assert len(ids) == len(set(ids)), "no alert acknowledged twice"
    s1 = [a["kind"] for a in acked if a["service"] == "s1"]
    assert s1[:2] == ["firing", "recovered"], "in order within the incident"
    print(f"\nOUTAGE: {len(queued)} alerts queued, {refused_while_down} refused requests while "
          f"down, {len(ids)} alerts acknowledged once each, 0 duplicates")


@pytest.mark.timeout(90)
def test_a_flapping_service_makes_a_bounded_number_of_messages(daemon_factory, receiver,
                                                              tmp_path):
    port = free_port()
    svc = demo_service_config(port, tmp_path / "demo.pid", interval=150, errorThreshold=1,
                              timeoutThreshold=500)
    cfg = services_file({"demo": svc})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 500, "flapMaxMessages": 4,
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: d.state("demo") == "healthy", what="demo healthy")
    base = f"http://127.0.0.1:{port}"
    for _ in range(12):
        http("POST", base + "/fail")
        wait_for(lambda: d.state("demo") == "failing", timeout=10, interval=0.05, what="failing")
        http("POST", base + "/heal")
        wait_for(lambda: d.state("demo") == "healthy", timeout=10, interval=0.05, what="healthy")
    time.sleep(1.5)
    made = d.get("/api/monitoring/alerts?limit=1000")[1]["alerts"]
    sent = alerts_of(receiver.of("webhook"))
    requests = len(receiver.of("webhook"))
    print(f"\nSTORM: 24 state changes -> {len(made)} alerts made, {len(sent)} sent in "
          f"{requests} requests, {sum(a['status'] == 'suppressed' for a in made)} held")
    assert len(made) >= 24
    assert len(sent) <= 5 and sent[-1]["kind"] == "flapping"
    assert requests <= len(sent)


@pytest.mark.timeout(90)
def test_silences_suppress_and_record(daemon_factory, receiver, listeners):
    quiet_port = free_port()  # nothing listens: fails at once, inside a maintenance window
    later_port = listen(listeners, "later")
    now = time.time()
    cfg = services_file({"quiet": tcp_service(quiet_port), "later": tcp_service(later_port)})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0,
        "maintenance": [{"services": ["qui*"], "start": _iso(now - 60), "end": _iso(now + 3600),
                         "comment": "disk swap"}],
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    url = "/api/monitoring/silences"
    status, body = d.post(url, {"matchers": {}, "end": _iso(now + 60)})
    assert status == 422 and "matchers" in body["error"]
    status, body = d.post(url, {"matchers": {"service": "later"}})
    assert status == 422 and body["problems"][0]["field"] == "end"
    status, body = d.post(url, {"matchers": {"service": "later"}, "end": _iso(now - 5)})
    assert status == 422 and body["field"] == "end"
    status, silence = d.post(url, {"matchers": {"service": "later", "severity": "*"},
                                   "end": _iso(now + 3600), "author": "ops",
                                   "comment": "deploying"})
    assert status == 201 and silence["id"].startswith("SL_") and silence["state"] == "active"
    listed = {s["id"]: s for s in d.get(url)[1]["silences"]}
    assert listed[silence["id"]]["author"] == "ops"
    assert listed["config-maintenance-0"]["source"] == "config"
    wait_for(lambda: d.state("quiet") == "failing", what="quiet failing")
    listeners.pop("later").close()
    wait_for(lambda: d.state("later") == "failing", what="later failing")
    made = wait_for(lambda: [a for a in d.get("/api/monitoring/alerts")[1]["alerts"]
                             if a["status"] == "silenced"] if len(
        [a for a in d.get("/api/monitoring/alerts")[1]["alerts"]
         if a["status"] == "silenced"]) >= 2 else None, what="two silenced alerts")
    reasons = {a["service"]: a["reason"] for a in made}
    assert reasons == {"quiet": "silence config-maintenance-0",
                       "later": f"silence {silence['id']}"}
    time.sleep(0.5)
    assert receiver.of("webhook") == []
    assert http("DELETE", d.url + f"{url}/{silence['id']}")[0] == 200
    assert http("DELETE", d.url + f"{url}/config-maintenance-0")[0] == 409
    assert silence["id"] not in {s["id"] for s in d.get(url)[1]["silences"]}
    listen(listeners, "later", later_port)
    wait_for(lambda: alerts_of(receiver.of("webhook")), what="alert after the silence ended")
    assert {a["service"] for a in alerts_of(receiver.of("webhook"))} == {"later"}


def _iso(ts: float) -> str:
    from datetime import datetime
    return datetime.fromtimestamp(ts, UTC).isoformat()


@pytest.mark.timeout(60)
def test_no_secret_reaches_a_payload_the_api_or_the_log(daemon_factory, receiver):
    port = free_port()
    svc = {"baseUrl": f"http://admin:hunter2pass@127.0.0.1:{port}", "healthCheckPath": "/health",
           "interval": 300, "errorThreshold": 1, "autoRestart": False}
    cfg = services_file({"secretive": svc})
    cfg["errorMonitoring"]["alerts"] = {"fireOn": "failing", "groupWindowMs": 0, "channels": [
        {"type": "webhook", "url": receiver.url("webhook") + "?token=urltoken789",
         "secret": "hmackey-abc", "headers": {"Authorization": "Bearer headertoken321"}},
        {"type": "slack", "url": receiver.url("slack")},
        {"type": "discord", "url": receiver.url("discord")}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: receiver.of("webhook") and receiver.of("slack") and receiver.of("discord"),
             what="an alert on every channel")
    secrets = ["hunter2pass", "urltoken789", "hmackey-abc", "headertoken321",
               "slacksecrettoken123", "discordsecrettoken456"]
    for r in receiver.received:
        body = r.raw.decode()
        assert "secretive" in body
        assert not [s for s in secrets if s in body], r.kind
    assert receiver.of("webhook")[0].headers["Authorization"] == "Bearer headertoken321"
    api = str(d.get("/api/monitoring/alerts")[1]) + str(d.get("/api/monitoring/health")[1])
    assert not [s for s in secrets if s in api]
    assert not [s for s in secrets if s in d.log()]


@pytest.mark.timeout(60)
def test_alert_test_command_prints_each_channels_answer(receiver, tmp_path):
    config = tmp_path / "services.json"
    cfg = services_file({})
    cfg["errorMonitoring"]["alerts"] = {"channels": [
        {"type": "slack", "name": "ops-slack", "url": receiver.url("slack")},
        {"type": "discord", "url": receiver.url("discord")}]}
    import json
    config.write_text(json.dumps(cfg))
    env = {**os.environ, "ERROR_WEBHOOK_URL": receiver.url("discord", "/env")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "supervisor", "alert", "test",
                               "--config", str(config), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=30)

    out = run()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("ops-slack (slack): accepted (200)")
    assert any(line.startswith("discord (discord): accepted (204)") for line in lines)
    # ERROR_WEBHOOK_URL: the kind comes from the URL (a Discord webhook path here)
    assert any(line.startswith("default (discord): accepted (204)") for line in lines)
    env_posts = [r for r in receiver.of("discord") if r.path.endswith("/env")]
    assert env_posts and env_posts[0].json["embeds"][0]["title"].startswith("[TEST]")
    assert "slacksecrettoken123" not in out.stdout + out.stderr
    receiver.mode("slack", (404, {}, "no_service"))
    out = run("ops-slack")
    assert out.returncode == 1
    assert "HTTP 404" in out.stdout and "no_service" in out.stdout
    assert run("nope").returncode == 2


@pytest.mark.timeout(60)
def test_reminders_repeat_while_down_and_stop_when_recovered(daemon_factory, receiver,
                                                             listeners):
    port = listen(listeners, "svc")
    cfg = services_file({"svc": tcp_service(port)})
    cfg["errorMonitoring"]["alerts"] = {
        "fireOn": "failing", "groupWindowMs": 0, "reminderIntervalMs": 1000,
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg, env={"AUTO_RECOVERY_ENABLED": "false"})
    wait_for(lambda: d.state("svc") == "healthy", what="healthy")
    listeners.pop("svc").close()
    wait_for(lambda: [a["kind"] for a in alerts_of(receiver.of("webhook"))].count("reminder")
             >= 2, timeout=15, what="two reminders")
    listen(listeners, "svc", port)
    wait_for(lambda: "recovered" in [a["kind"] for a in alerts_of(receiver.of("webhook"))],
             what="recovered")
    time.sleep(2.5)
    kinds = [a["kind"] for a in alerts_of(receiver.of("webhook"))]
    assert kinds[0] == "firing" and kinds[-1] == "recovered", kinds
    assert set(kinds[1:-1]) == {"reminder"}, "nothing after recovered"
    reminder = next(a for a in alerts_of(receiver.of("webhook")) if a["kind"] == "reminder")
    assert reminder["summary"].startswith("still failing after")


@pytest.mark.timeout(90)
def test_a_dependents_failure_is_folded_into_its_dependencys_incident(daemon_factory, receiver,
                                                                      listeners):
    db, api = listen(listeners, "db"), listen(listeners, "api")
    cfg = services_file({"db": tcp_service(db, ladder=["retry"]),
                         "api": tcp_service(api, ladder=["retry"], dependsOn=["db"])},
                        maxAttempts=2, initialDelay=300, jitter=0)
    cfg["errorMonitoring"]["alerts"] = {
        "groupWindowMs": 200,
        "channels": [{"type": "webhook", "url": receiver.url("webhook"), "minIntervalMs": 0}]}
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("db") == "healthy" and d.state("api") == "healthy",
             what="both healthy")
    listeners.pop("db").close()
    listeners.pop("api").close()
    wait_for(lambda: "gave_up" in [a["kind"] for a in alerts_of(receiver.of("webhook"))],
             timeout=40, what="db given up")
    listen(listeners, "db", db)
    listen(listeners, "api", api)
    # a given-up service comes back on its own checks; its dependent with it
    wait_for(lambda: d.state("api") == "healthy" and d.state("db") == "healthy", timeout=30,
             what="both healthy again")
    time.sleep(1.5)
    sent = alerts_of(receiver.of("webhook"))
    assert {a["service"] for a in sent} == {"db"}, [(a["service"], a["kind"]) for a in sent]
    assert "api" in sent[-1]["affected"], sent[-1]
