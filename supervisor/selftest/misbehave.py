"""What the throwaway service does besides answering: work that progresses (a counter and a
queue), and the misbehaviours a fault turns on (leaks, a deadlock, slowness, silence).

One `Behaviour` object per service process holds all of it, so the HTTP handler only reads and
flips its fields; nothing here is process-wide except the threads it starts.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from typing import Any


class Behaviour:
    def __init__(self) -> None:
        self.started = time.time()
        self.failing = False
        self.slow_ms = 0.0
        self.requests = 0
        self.reloads = 0
        self.reconnects = 0
        self.mqtt_connects = 0  # times the MQTT presence (re)connected to its broker
        self.mqtt_connected = False
        self.processed = 0
        self.queued = 0
        self.progress_stalled = False
        self.queue_stalled = False
        self.beating = True
        self.errors_thrown = 0
        self._deadlock = threading.Event()  # set: every /health waits forever on `_never`
        self._never = threading.Event()
        self._leaked: list[bytes] = []
        self._fds: list[int] = []
        self.pg_held = 0  # PostgreSQL connections leaked (opened and never closed)

    # -- work that advances by itself --------------------------------------------------
    def start_work(self) -> None:
        threading.Thread(target=self._work, name="work", daemon=True).start()

    def _work(self) -> None:
        while True:
            time.sleep(0.1)
            if not self.progress_stalled:
                self.processed += 1
            self.queued += 1  # a producer adds work ...
            if not self.queue_stalled:
                self.queued = 0  # ... and the consumer drains it

    def stats(self) -> dict[str, Any]:
        return {"processed": self.processed, "queued": self.queued}

    # -- faults ------------------------------------------------------------------------
    def deadlock(self) -> None:
        self._deadlock.set()

    def wait_if_deadlocked(self) -> None:
        """A handler that takes a lock nobody releases: alive, accepting, never answering."""
        if self._deadlock.is_set():
            self._never.wait()

    def leak_memory(self, mb_per_s: float) -> None:
        def grow() -> None:
            while True:
                self._leaked.append(b"x" * (1 << 20))  # written, so it is resident
                time.sleep(1 / mb_per_s)
        threading.Thread(target=grow, name="leak", daemon=True).start()

    def leak_fds(self, count: int) -> None:
        for _ in range(count):
            self._fds.append(os.open(os.devnull, os.O_RDONLY))

    def leak_pg_connections(self, dsn: str) -> None:
        """A client that leaks connections: it opens one to `dsn` every 0.1 s and never
        closes any, so it takes every slot the server frees until it is restarted."""
        def hold() -> None:
            import asyncio

            import asyncpg  # a dependency of the daemon (its postgres check)

            async def leak() -> None:
                held = []
                while True:
                    try:
                        held.append(await asyncpg.connect(dsn, timeout=2))
                        self.pg_held = len(held)
                    except (OSError, asyncpg.PostgresError, TimeoutError):
                        await asyncio.sleep(0.1)  # refused (the slots are gone): try again
            asyncio.run(leak())
        threading.Thread(target=hold, name="pg-leak", daemon=True).start()

    def throw(self, count: int, every_s: float) -> None:
        """Unhandled exceptions in threads, as a worker whose jobs keep crashing."""
        def loop() -> None:
            for i in range(count):
                threading.Thread(target=_crash, args=(i,), name=f"job-{i}").start()
                self.errors_thrown += 1
                time.sleep(every_s)
        threading.Thread(target=loop, name="thrower", daemon=True).start()

    # -- a cron job's check-ins --------------------------------------------------------
    def beat_to(self, url: str, every_s: float) -> None:
        def loop() -> None:
            while True:
                if self.beating:
                    try:
                        req = urllib.request.Request(url, data=json.dumps(
                            {"processed": self.processed}).encode(), method="POST",
                            headers={"Content-Type": "application/json"})
                        urllib.request.urlopen(req, timeout=2).close()
                    except OSError:
                        pass  # the daemon may be restarting; the next beat tries again
                time.sleep(every_s)
        threading.Thread(target=loop, name="beats", daemon=True).start()


def mqtt_presence(host: str, port: int, topic: str, behaviour: Behaviour,
                  keepalive: int = 2) -> object:
    """Announce `online` (retained) on `topic` with a last will of `offline`: the broker
    publishes the will when this process stops answering its keepalive or disconnects.
    Reconnects by itself (every second or two) when the broker goes away; `behaviour`
    counts the connections, so /health tells whether it came back."""
    # Only the MQTT fault needs it (a dependency of aiomqtt, so installed with the daemon).
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.will_set(topic, "offline", qos=1, retain=True)

    def on_connect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        c.publish(topic, "online", qos=1, retain=True)
        behaviour.mqtt_connects += 1
        behaviour.mqtt_connected = True

    def on_disconnect(c: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        behaviour.mqtt_connected = False
    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.reconnect_delay_set(min_delay=1, max_delay=2)
    client.connect(host, port, keepalive=keepalive)
    client.loop_start()
    return client


def _crash(i: int) -> None:
    raise RuntimeError(f"selftest job {i % 3} failed: ledger row locked")
