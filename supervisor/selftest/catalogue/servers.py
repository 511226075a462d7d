"""Faults of the servers a service leans on: Redis killed under a dependent, a Redis connection
dropped by the server, a worker that vanishes from its MQTT broker (the broker publishes its
last will), the broker killed under a worker (PostgreSQL's faults: postgres.py). Each runs only
where the server's binaries are installed; the servers are real, on loopback ports, in the
lab's folder."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from typing import Any

from supervisor.selftest.catalogue.process import RESTART, http_test, monit_block
from supervisor.selftest.catalogue.tools import health, kill
from supervisor.selftest.faults import Fault, Setup, find_binary
from supervisor.selftest.lab import COMMON, Lab, free_port


def _redis_argv(port: int, pid_file: Path) -> list[str]:
    exe = find_binary("redis-server") or "redis-server"
    return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--pidfile", str(pid_file)]


def redis_killed(lab: Lab) -> Setup:
    port = free_port()
    pid_file = lab.folder("redis-killed") / "redis.pid"
    # redis-server rewrites its command line to "redis-server 127.0.0.1:<port>": the pid
    # file's path is not in it (a Monit-started one was left running before).
    lab.remember_pid_file(pid_file, marker=f"127.0.0.1:{port}")
    redis = {"checks": [{"type": "redis", "url": f"redis://127.0.0.1:{port}/0"}], **COMMON,
             "ladder": ["restart"],
             "restart": {"command": _redis_argv(port, pid_file), "pidFile": str(pid_file),
                         "autoStart": True, "stopOnExit": True, "stopTimeout": 2000}}
    app = lab.service("redis-app", "--redis-port", str(port), dependsOn=["redis"])
    return Setup({"redis": redis, "redis-app": app}, "redis",
                 lambda: kill(redis, signal.SIGKILL),
                 monit=f"check process redis with pidfile {pid_file}\n"
                       f"  start program = \"/bin/sh -c '{' '.join(_redis_argv(port, pid_file))}"
                       " >/dev/null 2>&1 &'\" with timeout 20 seconds\n"
                       f"  stop program = \"/bin/sh -c 'kill -TERM $(cat {pid_file})'\"\n"
                       f"  if failed host 127.0.0.1 port {port} protocol redis then restart\n"
                       + monit_block("redis-app", app, http_test(app) + "\ndepends on redis"))


def redis_client_kill(lab: Lab) -> Setup:
    port = free_port()
    folder = lab.folder("redis-drop")
    lab.spawn(_redis_argv(port, folder / "redis.pid"), "redis-drop-server")
    url = f"redis://127.0.0.1:{port}/0"
    # errorThreshold 1: the check opens a new connection on its next run by itself, so a
    # threshold of 2 would never see the drop as a failure at all. Healed either way: by that
    # reconnect (often before the recovery acts: it is then stored as skipped) or by
    # reconnect_redis.
    svc = {"checks": [{"type": "redis", "url": url}], **COMMON, "errorThreshold": 1,
           "ladder": [{"strategy": "reconnect_redis", "url": url, "attempts": 2}]}

    def drop() -> None:
        """CLIENT KILL of every normal connection (the daemon's check among them)."""
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"CLIENT KILL TYPE normal SKIPME yes\r\n")
            if not s.recv(64).startswith(b":"):
                raise RuntimeError("CLIENT KILL was refused")
    return Setup({"redis-drop": svc}, "redis-drop", drop, monit=None)


def _wait_port(port: int, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f} s")


def mqtt_last_will(lab: Lab) -> Setup:
    port = free_port()
    conf = lab.folder("mqtt-will") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    lab.spawn([find_binary("mosquitto") or "mosquitto", "-c", str(conf)], "mosquitto")
    _wait_port(port)
    topic = "selftest/worker/status"
    svc = lab.service("mqtt-will", "--mqtt-port", str(port), "--mqtt-topic", topic,
                      healthCheckPath=None)
    # Only the broker's word: no HTTP check, so the last will is what detects the freeze.
    svc["checks"] = [{"type": "heartbeat", "period": 600000, "broker": f"mqtt://127.0.0.1:{port}",
                      "willTopic": topic, "offlinePayload": "offline"}]
    # SIGSTOP: the worker stops answering its 2 s keepalive; the broker publishes its will.
    return Setup({"mqtt-will": svc}, "mqtt-will", lambda: kill(svc, signal.SIGSTOP), monit=None)


def mqtt_broker_killed(lab: Lab) -> Setup:
    """The broker dies under a worker that announces itself on it: the broker is restarted,
    the worker reconnects by itself and must not be restarted. Healed: the daemon says both
    are healthy *and* the worker's own /health says it is connected to the broker again (a
    connection made after the kill)."""
    port = free_port()
    folder = lab.folder("mqtt-broker")
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    pid_file = folder / "mosquitto.pid"
    lab.remember_pid_file(pid_file, marker=str(conf))
    argv = [find_binary("mosquitto") or "mosquitto", "-c", str(conf)]
    broker = {"checks": [{"type": "mqtt", "broker": f"mqtt://127.0.0.1:{port}"}], **COMMON,
              "ladder": ["restart"],
              "restart": {"command": argv, "pidFile": str(pid_file), "autoStart": True,
                          "stopOnExit": True, "stopTimeout": 2000}}
    topic = "selftest/broker-worker/status"
    worker = lab.service("mqtt-worker", "--mqtt-port", str(port), "--mqtt-topic", topic,
                         dependsOn=["mqtt-broker"])
    before: list[dict[str, Any]] = []

    def inject() -> None:
        before.append(health(worker))
        kill(broker, signal.SIGKILL)

    def reconnected() -> bool:
        """Connected by a connection made after the kill (a worker restarted by a peer that
        restarts dependents counts too: that restart is judged as harm, not here)."""
        now, then = health(worker), (before[0] if before else {})
        return bool(now.get("mqttConnected")) and (
            now.get("pid") != then.get("pid")
            or int(now.get("mqttConnects", 0)) > int(then.get("mqttConnects", 0)))
    # mosquitto writes no pid file in the foreground: the start program records $!.
    return Setup({"mqtt-broker": broker, "mqtt-worker": worker}, "mqtt-broker", inject,
                 healed=reconnected,
                 monit=f"check process mqtt-broker with pidfile {pid_file}\n"
                       f"  start program = \"/bin/sh -c '{' '.join(argv)} >/dev/null 2>&1 & "
                       f"echo $! > {pid_file}'\" with timeout 20 seconds\n"
                       f"  stop program = \"/bin/sh -c 'kill -TERM $(cat {pid_file})'\"\n"
                       f"  if failed host 127.0.0.1 port {port} protocol mqtt then restart\n"
                       + monit_block("mqtt-worker", worker,
                                     http_test(worker) + "\ndepends on mqtt-broker"))


FAULTS = [
    Fault("redis-killed", "SIGKILL of Redis under a service that depends on it",
          ("PROCESS_EXITED", "CONNECTION_LOST"), RESTART, redis_killed,
          needs=("redis-server",), quick=True),
    Fault("redis-drop", "Redis drops the check's connection (CLIENT KILL)",
          ("CONNECTION_LOST",), None, redis_client_kill,
          needs=("redis-server",), quick=True),
    Fault("mqtt-will", "a worker freezes; its broker publishes its last will",
          ("CONNECTION_LOST",), RESTART, mqtt_last_will, needs=("mosquitto",)),
    Fault("mqtt-broker", "SIGKILL of the MQTT broker under a worker connected to it",
          ("PROCESS_EXITED", "CONNECTION_LOST"), RESTART, mqtt_broker_killed,
          needs=("mosquitto",)),
]
