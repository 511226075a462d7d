"""Ingest: sustained events per second through the Sentry envelope endpoint.

Starts the real daemon as a subprocess with one reporting service (budget lifted) and 50 TCP
checks every second, then sends gzip'd Sentry envelopes of ~5 KB and ~50 KB events (as they
are before compression; 200 distinct events over 50 groups, each with a stack of in-app
frames, breadcrumbs, request and extra) over keep-alive connections from a separate client
process, as fast as the daemon answers. Measures accepted events/s, what the answers were,
the daemon's CPU and RSS under that load, whether the checks kept their schedule (checks run
vs expected, event-loop lag), and the time from a real sentry-sdk `capture_exception` to the
error being listed by `GET /api/monitoring/errors`, idle and under load.

    .venv/bin/python bench/ingest.py                       # 5 KB and 50 KB, 20 s each
    .venv/bin/python bench/ingest.py --sizes 50 --seconds 30 --connections 8
    .venv/bin/python bench/ingest.py --store-all           # no sampling: every event a row
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parent.parent
KEY = "be9c4b1e5d7a4f3e8c2b1a0f9e8d7c6b"
PROJECT = 42
PROBE_KEY = "c0ffee00c0ffee00c0ffee00c0ffee00"  # its own service: the flood cannot hide it
PROBE_PROJECT = 43


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- events ---------------------------------------------------------------------------------
def make_event(size_kb: int, group: int, rng: random.Random) -> dict[str, Any]:
    """A Python-SDK-like error event of about `size_kb` KB of JSON."""
    frames = [{"filename": f"app/jobs/step{j}.py", "module": f"app.jobs.step{j}",
               "function": f"handle_{group}_{j}" if j > 8 else f"run_{j}",
               "lineno": 10 + j, "in_app": j > 3, "context_line": f"    result = step{j}(x)",
               "pre_context": ["    x = load()", "    check(x)"],
               "post_context": ["    return result"],
               "vars": {"x": f"'{rng.random()}'", "attempt": str(j), "password": "'s3cr3t'"}}
              for j in range(15)]
    event: dict[str, Any] = {
        "event_id": uuid.uuid4().hex, "level": "error", "platform": "python",
        "release": "bench@1.0.0", "environment": "bench", "server_name": "bench-host",
        "exception": {"values": [{"type": "RuntimeError",
                                  "value": f"job {rng.randint(1, 10**6)} failed in group "
                                           f"{group}",
                                  "mechanism": {"type": "generic", "handled": True},
                                  "stacktrace": {"frames": frames}}]},
        "tags": {"shard": f"s{group % 4}", "region": "eu"},
        "contexts": {"trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]},
                     "runtime": {"name": "CPython", "version": "3.11.7"}},
        "request": {"method": "POST", "url": "http://api.local/jobs",
                    "headers": {"Authorization": "Bearer abcdefgh12345", "User-Agent": "x"}},
        "breadcrumbs": {"values": []}, "extra": {},
    }
    size, crumb = len(json.dumps(event)), 0
    while size < size_kb * 1024:
        if crumb < 100:
            item: Any = {"timestamp": time.time(), "category": "query", "level": "info",
                         "message": f"SELECT * FROM jobs WHERE id = {rng.randint(1, 10**6)} "
                                    f"AND state = 'queued' -- {crumb}",
                         "data": {"durationMs": rng.random() * 20, "rows": rng.randint(0, 100)}}
            event["breadcrumbs"]["values"].append(item)
        else:
            item = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(400))
            event["extra"][f"payload{crumb}"] = item
        size += len(json.dumps(item)) + 16
        crumb += 1
    return event


def make_bodies(size_kb: int, n: int = 200, groups: int = 50) -> list[bytes]:
    rng = random.Random(size_kb)
    out = []
    for i in range(n):
        event = make_event(size_kb, i % groups, rng)
        payload = json.dumps(event).encode()
        env = b"\n".join([json.dumps({"event_id": event["event_id"]}).encode(),
                          json.dumps({"type": "event", "length": len(payload)}).encode(),
                          payload]) + b"\n"
        out.append(gzip.compress(env, compresslevel=6))
    return out


# -- the client (its own process, so that it does not share the daemon's core) -------------
async def _send_loop(port: int, bodies: list[bytes], until: float,
                     counts: dict[str, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = random.randrange(len(bodies))
    try:
        while time.monotonic() < until:
            body = bodies[i % len(bodies)]
            i += 1
            head = (f"POST /api/{PROJECT}/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"X-Sentry-Auth: Sentry sentry_key={KEY}, sentry_version=7\r\n"
                    "Content-Type: application/x-sentry-envelope\r\n"
                    f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n")
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            status = status_line.split(b" ")[1].decode() if status_line else "closed"
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            counts[status] = counts.get(status, 0) + 1
            if status == "429":
                await asyncio.sleep(0.05)
    finally:
        writer.close()


def client_process(port: int, size_kb: int, seconds: float, connections: int,
                   out: Any) -> None:
    bodies = make_bodies(size_kb)
    out.put({"ready": True, "compressedBytes": statistics.mean(len(b) for b in bodies)})
    counts: dict[str, int] = {}

    async def run() -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(_send_loop(port, bodies, until, counts)
                               for _ in range(connections)))
    started = time.monotonic()
    asyncio.run(run())
    out.put({"counts": counts, "seconds": time.monotonic() - started})


# -- the daemon -----------------------------------------------------------------------------
class Daemon:
    def __init__(self, tmp: Path, services: int, store_all: bool = False) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tcp = _TcpListener()
        svcs: dict[str, Any] = {f"svc{i}": {"port": self.tcp.port, "interval": 1000,
                                            "checks": [{"type": "tcp"}]}
                                for i in range(services)}
        svcs["reporter"] = {"errorReporting": {"projectId": PROJECT, "keys": [KEY],
                                               "rateLimit": 1_000_000, "burst": 1_000_000}}
        svcs["probe"] = {"errorReporting": {"projectId": PROBE_PROJECT, "keys": [PROBE_KEY]}}
        cfg = tmp / "services.json"
        cfg.write_text(json.dumps({"errorMonitoring": {"services": svcs}}))
        self.log = open(tmp / "daemon.log", "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run", "--config", str(cfg), "--port",
             str(self.port), "--data-dir", str(tmp / "data")], cwd=ROOT,
            env={**os.environ, "SOULFRA_LOG_FORMAT": "json", "ERROR_LOG_LEVEL": "warning",
                 # --store-all: every event stored in full, none only counted
                 **({"SOULFRA_INGEST_SAMPLE_FIRST": str(10**9)} if store_all else {})},
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/api/monitoring/health")
                break
            except OSError:
                time.sleep(0.2)
        self.ps = psutil.Process(self.proc.pid)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=10) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.tcp.stop()


class _TcpListener:
    """A port that accepts, for the TCP checks that must keep their schedule meanwhile."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except OSError:
                continue

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


# -- SDK send → visible ---------------------------------------------------------------------
SDK_PROBE = r"""
import sys, time, json, urllib.request, uuid, sentry_sdk
url, dsn, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
sentry_sdk.init(dsn=dsn)
out = []
for i in range(n):
    marker = f"visible-probe-{uuid.uuid4().hex}"
    t0 = time.monotonic()
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = [marker]  # a group of its own: never sampled out
        try:
            raise LookupError(marker)
        except LookupError:
            sentry_sdk.capture_exception()
    seen = None
    while time.monotonic() - t0 < 15:
        q = url + "/api/monitoring/errors?since=5m&limit=5&service=probe&source=sdk"
        with urllib.request.urlopen(q, timeout=10) as r:
            if marker in r.read().decode():
                seen = (time.monotonic() - t0) * 1000
                break
        time.sleep(0.005)
    out.append(seen)  # None: not visible within 15 s
    time.sleep(0.1)
print(json.dumps(out))
"""


def sdk_latency(d: Daemon, n: int) -> list[float | None]:
    dsn = f"http://{PROBE_KEY}@127.0.0.1:{d.port}/{PROBE_PROJECT}"
    done = subprocess.run([sys.executable, "-c", SDK_PROBE, d.url, dsn, str(n)],
                          capture_output=True, text=True, timeout=60 + 16 * n)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else 0.0


def summarise(samples: list[float | None]) -> dict[str, Any]:
    seen = [s for s in samples if s is not None]
    return {"p50": round(statistics.median(seen), 1) if seen else None,
            "p95": round(pct(seen, 0.95), 1) if seen else None,
            "max": round(max(seen), 1) if seen else None, "samples": len(samples),
            "notVisibleIn15s": len(samples) - len(seen)}


def run_size(d: Daemon, size_kb: int, args: argparse.Namespace) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    client = ctx.Process(target=client_process,
                         args=(d.port, size_kb, args.seconds, args.connections, q))
    client.start()
    ready = q.get(timeout=120)
    before = d.get("/api/monitoring/status")
    cpu0 = d.ps.cpu_times()
    t0 = time.monotonic()
    rss: list[int] = []
    latencies: list[float | None] = []
    probe = threading.Thread(target=lambda: latencies.extend(sdk_latency(d, args.probes)))
    probe.start()
    while client.is_alive() and time.monotonic() - t0 < args.seconds + 30:
        rss.append(d.ps.memory_info().rss)
        time.sleep(0.25)
    result = q.get(timeout=60)
    client.join()
    probe.join()
    wall = time.monotonic() - t0
    cpu1 = d.ps.cpu_times()
    time.sleep(2)  # let the write queue drain before reading the store's counts
    after = d.get("/api/monitoring/status")
    ing0, ing1 = before["ingest"], after["ingest"]
    checks = after["checks"]["total"] - before["checks"]["total"]
    accepted = ing1["accepted"] - ing0["accepted"]
    return {
        "eventKB": size_kb, "gzipKB": round(ready["compressedBytes"] / 1024, 1),
        "seconds": round(result["seconds"], 1), "connections": args.connections,
        "answers": result["counts"], "acceptedPerS": round(accepted / result["seconds"]),
        "stored": ing1["stored"] - ing0["stored"],
        "sampledOut": ing1["sampledOut"] - ing0["sampledOut"],
        "backlog429": ing1["backlog"] - ing0["backlog"],
        "daemonCpuPercent": round(((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system))
                                  / wall * 100),
        "rssMB": {"max": round(max(rss) / 2**20, 1), "median": round(
            statistics.median(rss) / 2**20, 1)},
        "checksRun": checks, "checksExpected": round(args.services * wall),
        "loopLagMs": {"max1m": after["selfwatch"]["eventLoop"]["maxLagMs1m"],
                      "p99_1m": after["selfwatch"]["eventLoop"]["p99LagMs1m"]},
        "storeDropped": after["store"]["dropped"],
        "sdkToVisibleMsUnderLoad": summarise(latencies),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="5,50", help="event sizes in KB (default 5,50)")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--connections", type=int, default=6)
    p.add_argument("--services", type=int, default=50, help="TCP checks every 1 s meanwhile")
    p.add_argument("--probes", type=int, default=20, help="SDK send → visible samples")
    p.add_argument("--store-all", action="store_true",
                   help="store every event in full (no sampling after the first 20 a group)")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    d = Daemon(tmp, args.services, args.store_all)
    try:
        time.sleep(3)
        idle = sdk_latency(d, args.probes)
        out: dict[str, Any] = {
            "loadAverageBefore": [round(x, 2) for x in os.getloadavg()],
            "storeAll": args.store_all,
            "sdkToVisibleMsIdle": summarise(idle),
            "runs": [run_size(d, int(s), args) for s in args.sizes.split(",")],
            "loadAverageAfter": [round(x, 2) for x in os.getloadavg()],
            "rssIdleMB": round(d.ps.memory_info().rss / 2**20, 1),
            # every probe's event, stored in the end? (a probe that timed out arrived late,
            # or was lost between the SDK and the daemon)
            "probeEventsStored": d.get("/api/monitoring/errors?since=1h&service=probe&"
                                       "limit=1")["summary"]["total"],
            "probesSent": args.probes * (1 + len(args.sizes.split(","))),
        }
    finally:
        d.stop()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
