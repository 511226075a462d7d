"""A worker that reports to MQTT the way platform services do: an 'online' status with an
'offline' last will, and a heartbeat with a counter every --every seconds. Run by tests."""

from __future__ import annotations

import argparse
import json
import time

import paho.mqtt.client as mqtt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="worker")
    ap.add_argument("--every", type=float, default=0.2)
    args = ap.parse_args()
    status, beat = f"platform/{args.name}/status", f"platform/{args.name}/heartbeat"
    # paho exports CallbackAPIVersion without declaring it in __all__
    api = mqtt.CallbackAPIVersion.VERSION2  # type: ignore[attr-defined]
    client = mqtt.Client(api, client_id=f"{args.name}-{time.time()}")
    client.will_set(status, "offline", qos=1, retain=True)
    client.connect("127.0.0.1", args.port, keepalive=30)
    client.loop_start()
    client.publish(status, "online", qos=1, retain=True).wait_for_publish(5)
    print("ready", flush=True)
    done = 0
    while True:
        done += 1
        client.publish(beat, json.dumps({"processed": done}), qos=0)
        time.sleep(args.every)


if __name__ == "__main__":
    main()
