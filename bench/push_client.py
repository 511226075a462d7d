#!/usr/bin/env python3
"""A service that only pushes signs of life, for scenario 7; the benchmark SIGKILLs it.

--mode will: connect to the MQTT broker with a last will (`offline` on --topic), say `online`
             there, then stay connected; when it dies the broker publishes the will.
--mode beat: POST a heartbeat to --url every --period seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request


async def will(port: int, topic: str) -> None:
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", port, will=aiomqtt.Will(topic, b"offline", qos=1),
                              keepalive=30) as client:
        await client.publish(topic, b"online", qos=1)
        print("online", flush=True)
        await asyncio.Event().wait()


def beat(url: str, period: float) -> None:
    next_at = time.monotonic()
    while True:
        req = urllib.request.Request(url, data=b"", method="POST")
        try:
            urllib.request.urlopen(req, timeout=2).read()
        except OSError:
            pass  # the daemon may be busy; the next beat will tell
        next_at += period
        time.sleep(max(0.0, next_at - time.monotonic()))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mode", choices=("will", "beat"), required=True)
    p.add_argument("--port", type=int, help="broker port (will)")
    p.add_argument("--topic", help="last-will topic (will)")
    p.add_argument("--url", help="heartbeat URL (beat)")
    p.add_argument("--period", type=float, default=1.0)
    p.add_argument("--tag", default="", help="ignored; marks the process as the run's")
    a = p.parse_args()
    if a.mode == "will":
        asyncio.run(will(a.port, a.topic))
    else:
        beat(a.url, a.period)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
