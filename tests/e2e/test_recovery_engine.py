"""The recovery engine end to end: backoff that grows, a breaker that opens, probes slowly,
closes by itself and survives a daemon restart, a startup grace, and pauses that are not
failures. Real daemon, real demo services, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.helpers import (
    DEMO,
    demo_service_config,
    free_port,
    http,
    kill_tree,
    read_pid,
    services_file,
    wait_for,
)


def _runs(d, name: str, status: str | None = None) -> list[dict]:
    runs = d.service(name)["recentRecoveries"]
    return [r for r in runs if status is None or r["status"] == status]


@pytest.mark.timeout(90)
def test_crashing_on_start_twice_then_working_recovers_with_growing_gaps(daemon_factory,
                                                                        tmp_path):
    port, pid_file, fails = free_port(), tmp_path / "app.pid", tmp_path / "fail-starts"
    svc = demo_service_config(port, pid_file, interval=500, ladder=["restart"])
    svc["restart"]["command"] += ["--fail-starts-file", str(fails)]
    cfg = services_file({"app": svc}, maxAttempts=4, initialDelay=400, backoffMultiplier=2,
                        jitter=0, startupGrace=3000, resetAfter=4000)
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("app") == "healthy", what="app healthy")
    fails.write_text("2")  # the next two starts crash at once
    os.kill(read_pid(pid_file), signal.SIGKILL)

    run = wait_for(lambda: next(iter(_runs(d, "app", "succeeded")), None), timeout=40,
                   what="recovery after two failed starts")
    attempts = run["attempts"]
    assert [a["ok"] for a in attempts] == [False, False, True], attempts
    assert "exited during startup" in attempts[0]["message"]
    ends = [a["startedAt"] + a["durationMs"] / 1000 for a in attempts]
    gaps = [attempts[i + 1]["startedAt"] - ends[i] for i in range(2)]
    assert gaps[0] >= 0.35 and gaps[1] >= 0.75 and gaps[1] > gaps[0] * 1.5, gaps
    assert run["actionDelayMs"] is not None and run["actionDelayMs"] < 30_000
    assert fails.read_text() == "0"
    wait_for(lambda: d.state("app") == "healthy", what="app healthy again")
    err = wait_for(lambda: next((e for e in d.errors() if e["recovered"]), None),
                   what="error marked recovered")
    assert err["type"] == "process_exited"
    assert d.service("app")["recovery"]["backoffLevel"] == 1

    # A second crash soon after: this recovery waits initialDelay first (the level grew).
    os.kill(read_pid(pid_file), signal.SIGKILL)
    second = wait_for(lambda: len(_runs(d, "app", "succeeded")) == 2
                      and _runs(d, "app", "succeeded")[-1], timeout=30, what="second recovery")
    assert second["plan"][0]["strategy"] == "wait" and second["plan"][0]["delayMs"] == 400
    assert d.service("app")["recovery"]["backoffLevel"] == 2

    # Healthy for longer than resetAfter: the next recovery starts without a wait again.
    wait_for(lambda: d.state("app") == "healthy", what="app healthy after the second")
    time.sleep(5)
    os.kill(read_pid(pid_file), signal.SIGKILL)
    third = wait_for(lambda: len(_runs(d, "app", "succeeded")) == 3
                     and _runs(d, "app", "succeeded")[-1], timeout=30, what="third recovery")
    assert third["plan"][0]["strategy"] == "restart_command", third["plan"]
    assert d.service("app")["recovery"]["backoffLevel"] == 1


@pytest.mark.timeout(120)
def test_breaker_opens_survives_a_restart_probes_slowly_and_closes_by_itself(daemon_factory,
                                                                            tmp_path):
    port = free_port()
    svc = demo_service_config(port, tmp_path / "broken.pid", interval=500, errorThreshold=1,
                              ladder=["restart"])
    svc["restart"]["command"] = [sys.executable, str(DEMO), "--fail-start"]
    svc["restart"]["autoStart"] = False
    cfg = services_file({"broken": svc}, maxAttempts=2, initialDelay=200, startupGrace=1000)
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("broken") == "gave_up", timeout=30, what="gave_up")
    breaker = d.service("broken")["recovery"]["breaker"]
    assert breaker["open"] is True and "failed after 2 attempt" in breaker["reason"]
    status, body = d.post("/api/monitoring/recover",
                          {"action": "restart_service", "target": "broken"})
    assert status == 202 and body["status"] == "skipped" and "force" in body["message"]

    # The supervisor restarts: the breaker is still open, nothing is restarted again.
    assert d.stop() == 0
    d.start()
    wait_for(lambda: d.state("broken") == "gave_up", timeout=20, what="gave_up after restart")
    runs = _runs(d, "broken")
    assert runs and all(r["status"] == "skipped" for r in runs), runs
    assert "circuit breaker open" in runs[0]["message"]

    # Someone starts it by hand, but it still answers 500 (its data directory is missing):
    # only slow probes arrive meanwhile.
    data = tmp_path / "data-dir"
    fixed = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port),
                              "--data-dir", str(data)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: http("GET", f"http://127.0.0.1:{port}/health")[0] == 500,
                 what="hand-started service up")
        time.sleep(4.0)
        probes = http("GET", f"http://127.0.0.1:{port}/health")[1]["requests"] - 1
        # Every 0.5 s at the normal pace (8 in 4 s); a given-up service every 2 s.
        assert probes <= 4, f"{probes} probes in 4 s: not probing slowly"
        assert d.state("broken") == "gave_up"
        data.mkdir()
        wait_for(lambda: d.state("broken") == "healthy", timeout=15,
                 what="breaker closed by itself")
        assert d.service("broken")["recovery"]["breaker"]["open"] is False
    finally:
        kill_tree(fixed.pid)
        fixed.wait()


def test_a_slow_starter_is_not_killed_while_it_boots(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "slow.pid"
    svc = demo_service_config(port, pid_file, interval=300, errorThreshold=1,
                              startupGrace=8000, ladder=["restart"])
    svc["restart"]["command"] += ["--startup-delay", "3"]
    d = daemon_factory(services_file({"slow": svc}))
    first = wait_for(lambda: pid_file.exists() and read_pid(pid_file), what="slow started")
    wait_for(lambda: d.state("slow") == "healthy", timeout=20, what="slow healthy")
    time.sleep(1)
    assert read_pid(pid_file) == first, "restarted while booting"
    assert _runs(d, "slow") == []
    assert d.errors() == [], "booting within the startup grace is not an error"


def test_pause_is_not_a_failure_and_survives_a_restart(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "web.pid"
    d = daemon_factory(services_file({"web": demo_service_config(port, pid_file)}))
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    pid = read_pid(pid_file)
    status, body = d.post("/api/monitoring/services/web/pause",
                          {"reason": "disk swap", "stop": True},
                          headers={"X-Requested-By": "alice"})
    assert status == 200 and body["status"] == "maintenance"
    assert body["paused"]["by"] == "alice" and body["paused"]["stopped"] is True
    time.sleep(3)  # several check intervals with the process gone
    assert d.state("web") == "maintenance"
    assert d.errors() == [], "a planned stop is not an error"
    assert [r["action"] for r in _runs(d, "web")] == ["pause"]
    assert d.get("/api/monitoring/health")[1]["status"] == "healthy"

    assert d.stop() == 0
    d.start()
    time.sleep(2)
    assert d.state("web") == "maintenance", "the pause outlives a daemon restart"
    assert d.errors() == []

    status, body = d.post("/api/monitoring/services/web/resume",
                          headers={"X-Requested-By": "alice"})
    assert status == 200 and body["startedPid"]
    wait_for(lambda: d.state("web") == "healthy", timeout=15, what="web healthy after resume")
    assert read_pid(pid_file) != pid, "started anew on resume"
    assert d.post("/api/monitoring/services/web/resume")[0] == 409
    status, body = d.post("/api/monitoring/services/web/pause", {"durationMs": "soon"})
    assert status == 422 and body["problems"][0]["field"] == "durationMs"
    assert d.post("/api/monitoring/services/nope/pause", {})[0] == 404


def test_flapping_opens_the_breaker_even_though_every_restart_worked(daemon_factory,
                                                                     tmp_path):
    port, pid_file = free_port(), tmp_path / "flappy.pid"
    svc = demo_service_config(port, pid_file, interval=500, ladder=["restart"])
    cfg = services_file({"flappy": svc}, flapMaxRecoveries=2, flapWindow=600000,
                        initialDelay=100, jitter=0)
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("flappy") == "healthy", what="flappy healthy")
    for n in (1, 2):
        os.kill(read_pid(pid_file), signal.SIGKILL)
        wait_for(lambda n=n: len(_runs(d, "flappy", "succeeded")) == n
                 and d.state("flappy") == "healthy", timeout=30, what=f"recovery {n}")
    os.kill(read_pid(pid_file), signal.SIGKILL)
    wait_for(lambda: d.state("flappy") == "gave_up", timeout=20, what="gave up on flapping")
    assert len(_runs(d, "flappy", "succeeded")) == 2, "no third restart"
    skipped = _runs(d, "flappy", "skipped")
    assert skipped and skipped[-1]["message"].startswith("flapping: 2 recoveries within 10 min")
    assert d.service("flappy")["recovery"]["breaker"]["open"] is True


def test_parallel_recover_calls_start_exactly_one_recovery(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "web.pid"
    d = daemon_factory(services_file({"web": demo_service_config(port, pid_file)}))
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    body = {"action": "restart_service", "target": "web"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: d.post("/api/monitoring/recover", body), range(6)))
    assert all(status == 202 for status, _ in answers)
    assert len({a["id"] for _, a in answers}) == 1, answers
    assert [a["alreadyRunning"] for _, a in answers].count(False) == 1
    wait_for(lambda: d.get(answers[0][1]["location"])[1]["status"] == "succeeded",
             what="the one recovery done")
    assert len(_runs(d, "web")) == 1
