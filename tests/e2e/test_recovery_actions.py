"""Strategies that repair without a restart, in the real daemon: signal, webhook,
reconnect_redis, failover through a real Redis, restart_systemd through a stand-in systemctl,
dependencies on a Redis the test kills, and dry runs that change nothing."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys

import pytest
import redis

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
    return [r for r in d.service(name)["recentRecoveries"]
            if status is None or r["status"] == status]


def _health(port: int) -> dict:
    return http("GET", f"http://127.0.0.1:{port}/health")[1]


def test_signal_reloads_the_service_in_place(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "web.pid"
    svc = demo_service_config(port, pid_file, ladder=[{"strategy": "signal", "signal": "HUP"}])
    d = daemon_factory(services_file({"web": svc}))
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    pid = read_pid(pid_file)
    http("POST", f"http://127.0.0.1:{port}/fail")
    run = wait_for(lambda: next(iter(_runs(d, "web", "succeeded")), None), timeout=20,
                   what="signal recovery")
    assert run["attempts"][0]["message"].startswith(f"sent SIGHUP to pid {pid}")
    assert read_pid(pid_file) == pid and _health(port)["reloads"] == 1


def test_webhook_calls_the_services_repair_hook(daemon_factory, tmp_path):
    port, pid_file = free_port(), tmp_path / "web.pid"
    svc = demo_service_config(port, pid_file, ladder=[
        {"strategy": "webhook", "url": f"http://ops:sekrit-pass@127.0.0.1:{port}/heal"}])
    d = daemon_factory(services_file({"web": svc}))
    wait_for(lambda: d.state("web") == "healthy", what="web healthy")
    pid = read_pid(pid_file)
    http("POST", f"http://127.0.0.1:{port}/fail")
    run = wait_for(lambda: next(iter(_runs(d, "web", "succeeded")), None), timeout=20,
                   what="webhook recovery")
    assert "answered 200" in run["attempts"][0]["message"]
    assert '"failing": false' in run["attempts"][0]["output"]
    assert read_pid(pid_file) == pid
    assert "POST http://ops:***@127.0.0.1" in run["attempts"][0]["ran"]
    stored = d.get(f"/api/monitoring/recoveries/{run['id']}")[1]
    assert "sekrit-pass" not in json.dumps(stored) + json.dumps(d.service("web"))


def test_reconnect_redis_calls_the_reconnect_hook(daemon_factory, tmp_path, redis_server):
    port, pid_file = free_port(), tmp_path / "app.pid"
    svc = demo_service_config(port, pid_file, reconnect={
        "url": redis_server.url, "hookUrl": f"http://127.0.0.1:{port}/reconnect"})
    svc["restart"]["command"] += ["--redis-port", str(redis_server.port)]
    d = daemon_factory(services_file({"app": svc}))
    wait_for(lambda: d.state("app") == "healthy", what="app healthy")
    status, body = d.post("/api/monitoring/recover",
                          {"action": "reconnect_redis", "target": "app"})
    assert status == 202
    done = wait_for(lambda: (r := d.get(body["location"])[1])["status"] == "succeeded" and r,
                    what="reconnect done")
    output = done["attempts"][0]["output"]
    assert "PONG" in output and "hook answered 200" in output
    assert _health(port)["reconnects"] == 1


@pytest.mark.timeout(90)
def test_only_redis_is_acted_on_when_it_dies_and_the_app_names_it(daemon_factory, tmp_path,
                                                                   redis_server):
    """The app depends on Redis. Redis is killed: the app fails first (it is checked more
    often), but only Redis is restarted; the app is re-checked after and heals by itself."""
    app_port, app_pid = free_port(), tmp_path / "app.pid"
    cfg = services_file({
        "redis": {"checks": [{"type": "redis", "url": redis_server.url}], "interval": 1000,
                  "errorThreshold": 2, "timeoutThreshold": 1000, "ladder": ["restart"],
                  "restart": {"command": redis_server.argv(), "pidFile": str(tmp_path /
                                                                             "redis.pid"),
                              "stopOnExit": True, "stopTimeout": 2000}},
        "app": demo_service_config(app_port, app_pid, interval=300, dependsOn=["redis"],
                                   ladder=["restart"]),
    })
    cfg["errorMonitoring"]["services"]["app"]["restart"]["command"] += [
        "--redis-port", str(redis_server.port)]
    d = daemon_factory(cfg)
    wait_for(lambda: d.state("app") == "healthy" and d.state("redis") == "healthy",
             what="both healthy")
    pid = read_pid(app_pid)
    redis_server.kill()
    fixed = wait_for(lambda: next(iter(_runs(d, "redis", "succeeded")), None), timeout=40,
                     what="redis restarted by the daemon")
    assert fixed["attempts"][0]["strategy"] == "restart_command"
    wait_for(lambda: d.state("app") == "healthy", timeout=20, what="app healthy again")
    assert read_pid(app_pid) == pid, "the app was restarted"
    assert all(r["status"] == "skipped" for r in _runs(d, "app"))
    app_error = next(e for e in d.errors() if e["service"] == "app")
    full = d.get(f"/api/monitoring/errors/{app_error['id']}")[1]
    assert full["context"]["causedBy"] == "redis"
    assert "redis" in full["context"]["recoverySkipped"]
    assert app_error["recovered"]


def test_failover_flips_a_redis_key_and_back(daemon_factory, tmp_path, redis_server):
    p1, p2 = free_port(), free_port()
    key = "soulfra:active-backend"
    backends = [{"name": "primary", "value": f"http://127.0.0.1:{p1}", "service": "primary"},
                {"name": "backup", "value": f"http://127.0.0.1:{p2}", "service": "backup"}]
    primary = demo_service_config(p1, tmp_path / "primary.pid", ladder=[
        {"strategy": "failover", "redisUrl": redis_server.url, "key": key,
         "backends": backends}])
    d = daemon_factory(services_file({
        "primary": primary, "backup": demo_service_config(p2, tmp_path / "backup.pid")}))
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        client.set(key, backends[0]["value"])
        wait_for(lambda: d.state("primary") == "healthy" and d.state("backup") == "healthy",
                 what="both healthy")
        os.kill(read_pid(tmp_path / "primary.pid"), signal.SIGKILL)
        wait_for(lambda: client.get(key) == backends[1]["value"], timeout=20,
                 what="key switched to the backup")
        run = wait_for(lambda: next(iter(_runs(d, "primary", "succeeded")), None),
                       what="failover run")
        assert "primary -> backup" in run["attempts"][0]["message"]
        assert d.state("primary") == "recovering", "failing over does not heal the primary"

        # The primary comes back (here by hand): the key flips back by itself.
        back = subprocess.Popen([sys.executable, str(DEMO), "--port", str(p1)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: client.get(key) == backends[0]["value"], timeout=20,
                     what="key switched back to the primary")
            assert d.state("primary") == "healthy"
            undo = wait_for(lambda: next(iter(_runs(d, "primary")), None)
                            and [r for r in _runs(d, "primary")
                                 if r["action"] == "undo_failover"], what="undo stored")
            assert "backup -> primary" in undo[0]["message"]
        finally:
            kill_tree(back.pid)
            back.wait()
    finally:
        client.close()


STAND_IN_SYSTEMCTL = """\
#!{python}
# A stand-in for systemctl: records its arguments, and for `restart` replaces the test's
# demo service (kill the pid in the pidfile, start a new one detached).
import os, signal, subprocess, sys, time
with open({calls!r}, "a") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:2] == ["restart"]:
    try:
        os.kill(int(open({pid_file!r}).read().split()[0]), signal.SIGKILL)
    except (OSError, ValueError):
        pass
    subprocess.Popen([{python!r}, {demo!r}, "--port", "{port}", "--pidfile", {pid_file!r}],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     start_new_session=True)
"""


def test_restart_systemd_runs_systemctl_restart(daemon_factory, tmp_path):
    """systemd is not PID 1 on these machines, so `systemctl` here is a stand-in placed early
    on the daemon's PATH: it records its arguments and restarts the test's demo process, as
    `systemctl restart` would restart the unit."""
    port, pid_file, calls = free_port(), tmp_path / "unit.pid", tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(STAND_IN_SYSTEMCTL.format(python=sys.executable, demo=str(DEMO), port=port,
                                              pid_file=str(pid_file), calls=str(calls)))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    first = subprocess.Popen([sys.executable, str(DEMO), "--port", str(port),
                              "--pidfile", str(pid_file)], start_new_session=True)
    try:
        wait_for(lambda: pid_file.exists() and http("GET", f"http://127.0.0.1:{port}/health")
                 [0] == 200, what="unit up")
        svc = {"port": port, "healthCheckPath": "/health", "interval": 500,
               "errorThreshold": 2, "timeoutThreshold": 1000, "systemdUnit": "demo.service",
               "ladder": ["restart"]}
        d = daemon_factory(services_file({"unit": svc}),
                           env={"PATH": f"{bin_dir}:{os.environ['PATH']}"})
        wait_for(lambda: d.state("unit") == "healthy", what="unit healthy")
        os.kill(first.pid, signal.SIGKILL)
        run = wait_for(lambda: next(iter(_runs(d, "unit", "succeeded")), None), timeout=30,
                       what="restart_systemd recovery")
        assert run["attempts"][0]["strategy"] == "restart_systemd"
        assert calls.read_text().splitlines() == ["restart demo.service"]
        assert read_pid(pid_file) != first.pid
    finally:
        first.wait()


def test_dry_run_of_the_whole_ladder_changes_nothing(daemon_factory, tmp_path):
    spool, gone = tmp_path / "spool", tmp_path / "run" / "gone"
    spool.mkdir()
    for i in range(3):
        (spool / f"old{i}.log").write_text("x" * 100)
    svc = {"checks": [{"type": "disk", "path": str(tmp_path)}], "interval": 1000,
           "ladder": [{"strategy": "disk_cleanup", "directories": [str(spool)],
                       "olderThan": 0},
                      {"strategy": "ensure_path", "paths": [{"path": str(gone),
                                                             "mode": "0700"}]}]}
    d = daemon_factory(services_file({"files": svc}))
    status, body = d.post("/api/monitoring/recover",
                          {"action": "run_ladder", "target": "files", "dryRun": True})
    assert status == 200 and body["status"] == "dry_run"
    cleanup, ensure = body["plan"]
    assert cleanup["would"].startswith("would free 300 B in 3 file(s)")
    assert str(spool / "old0.log") in cleanup["output"]
    assert ensure["would"] == f"would create directory {gone}"
    assert len(list(spool.iterdir())) == 3 and not gone.exists()
    stored = d.get(f"/api/monitoring/recoveries/{body['id']}")[1]
    assert stored["dryRun"] is True and stored["requestedBy"] == "api"
