"""State changes on MQTT for other tools (SOULFRA_EVENTS_MQTT_URL) on a real mosquitto: a
subscriber sees each service's state retained under soulfra/<node>/<service>/state, the node
`online`, and — when the daemon is killed without a goodbye — `offline` from its last will."""

from __future__ import annotations

import json
import signal
import threading
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.support.alerts import listen, tcp_service
from tests.support.helpers import services_file, wait_for


class Subscriber:
    """The newest retained payload of every topic under soulfra/<node>/#."""

    def __init__(self, port: int, node: str) -> None:
        self.seen: dict[str, str] = {}
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._message
        self.client.on_connect = lambda c, *_: c.subscribe(f"soulfra/{node}/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.seen[msg.topic] = msg.payload.decode()

    def get(self, topic: str) -> str | None:
        with self._lock:
            return self.seen.get(topic)

    def state(self, topic: str) -> str | None:
        payload = self.get(topic)
        return json.loads(payload)["state"] if payload else None

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.mark.timeout(60)
def test_states_are_retained_and_the_last_will_says_offline(daemon_factory, mosquitto_server,
                                                            listeners):
    port = listen(listeners, "db")
    d = daemon_factory(services_file({"db": tcp_service(port, interval=500)}),
                       env={"SOULFRA_NODE_NAME": "a", "SOULFRA_EVENTS_MQTT_URL":
                            f"mqtt://127.0.0.1:{mosquitto_server.port}"})
    wait_for(lambda: d.state("db") == "healthy", what="db healthy")
    sub = Subscriber(mosquitto_server.port, "a")  # comes late: retained messages
    try:
        wait_for(lambda: sub.state("soulfra/a/db/state") == "healthy", timeout=15,
                 what="db's state retained on MQTT")
        assert sub.get("soulfra/a/status") == "online"
        body = json.loads(sub.get("soulfra/a/db/state") or "{}")
        assert body["node"] == "a" and body["service"] == "db"

        listeners.pop("db").close()
        wait_for(lambda: sub.state("soulfra/a/db/state") in ("failing", "recovering",
                                                              "gave_up"),
                 timeout=15, what="the failure published")

        assert d.proc is not None
        d.proc.send_signal(signal.SIGKILL)  # no goodbye: the broker sends the will
        d.proc.wait(10)
        wait_for(lambda: sub.get("soulfra/a/status") == "offline", timeout=20,
                 what="the last will: a offline")
    finally:
        sub.stop()


@pytest.mark.timeout(60)
def test_a_clean_stop_says_offline_too(daemon_factory, mosquitto_server, listeners):
    port = listen(listeners, "db")
    d = daemon_factory(services_file({"db": tcp_service(port, interval=500)}),
                       env={"SOULFRA_NODE_NAME": "b", "SOULFRA_EVENTS_MQTT_URL":
                            f"mqtt://127.0.0.1:{mosquitto_server.port}"})
    sub = Subscriber(mosquitto_server.port, "b")
    try:
        wait_for(lambda: sub.get("soulfra/b/status") == "online", timeout=15,
                 what="b online")
        assert d.stop() == 0
        wait_for(lambda: sub.get("soulfra/b/status") == "offline", timeout=10,
                 what="b offline after a clean stop")
    finally:
        sub.stop()
