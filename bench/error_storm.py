"""Error storm: 100,000 errors in a minute while the checks keep running.

Runs the real daemon in-process (store, bus, scheduler, API, self-watch) with SERVICES tcp
checks every INTERVAL seconds against a local listener, and pushes errors through the path
every stored error takes (`error_row` → redaction, fingerprint → `Store.submit_error` →
batched writes). Measures the store's insert rate, peak RSS (sampled every 50 ms), the
lateness of the checks (gap between two runs of a service minus its interval) and the event
loop's lag.

    .venv/bin/python bench/error_storm.py                  # 100,000 over 60 s
    .venv/bin/python bench/error_storm.py --burst          # 100,000 as fast as possible
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supervisor.config.loader import load_config  # noqa: E402
from supervisor.config.settings import Settings  # noqa: E402
from supervisor.core.incidents import error_row  # noqa: E402
from supervisor.core.taxonomy import LOST, TIMEOUT, classify_http_status  # noqa: E402
from supervisor.daemon import Daemon  # noqa: E402


class RssSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.proc = psutil.Process()
        self.peak = 0
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            rss = self.proc.memory_info().rss
            self.peak = max(self.peak, rss)
            self.samples.append((time.monotonic(), rss))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


async def main(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="storm-"))
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    services = {f"svc{i}": {"port": port, "checks": [{"type": "tcp"}],
                            "interval": int(args.interval * 1000), "errorThreshold": 3}
                for i in range(args.services)}
    cfg_path = tmp / "services.json"
    cfg_path.write_text(json.dumps({"errorMonitoring": {"services": services}}))
    settings = Settings(config=cfg_path, data_dir=tmp / "data", port=0)
    daemon = Daemon(settings, load_config(cfg_path, settings))
    runs: dict[str, list[float]] = {}

    def on_check(service: str, result: object) -> None:
        runs.setdefault(service, []).append(time.monotonic())

    from supervisor.core.scheduler import add_check_hook
    add_check_hook(daemon.scheduler, on_check)
    await daemon.start()
    sampler = RssSampler()
    sampler.start()
    await asyncio.sleep(args.warmup)
    baseline = psutil.Process().memory_info().rss
    written0 = daemon.store.writes.health.written
    storm_start_mark = time.monotonic()
    classes = [TIMEOUT, LOST, classify_http_status(503), classify_http_status(429)]
    assert all(c is not None for c in classes)
    max_pending = 0
    submitted = 0
    started = time.monotonic()
    per_tick = max(1, args.errors // int(args.seconds * 100)) if not args.burst else 1000
    while submitted < args.errors:
        n = min(per_tick, args.errors - submitted)
        for _ in range(n):
            i = submitted
            c = classes[i % len(classes)]
            svc = f"svc{i % 50}"
            # varying numbers, ids and addresses: they fold into a few groups per service
            msg = (f"no answer from http://10.0.{i % 7}.{i % 250}:8080/health?token=s3cr3t{i}"
                   f" within {1000 + i % 900} ms (req {i:08x})")
            row = error_row(c, svc, msg, correlation_id=f"inc_{i:012x}",  # type: ignore[arg-type]
                            context={"attempt": i}, env={"host": "bench"})
            daemon.store.submit_error(row)
            submitted += 1
        max_pending = max(max_pending, daemon.store.writes.pending)
        if args.burst:
            await asyncio.sleep(0)
        else:
            target = started + submitted / args.errors * args.seconds
            await asyncio.sleep(max(0.0, target - time.monotonic()))
    submit_s = time.monotonic() - started
    await daemon.store.flush(within=120)
    drained_s = time.monotonic() - started
    storm_end_mark = time.monotonic()
    await asyncio.sleep(1.0)
    health = daemon.store.write_health()
    written = daemon.store.writes.health.written - written0
    lateness = []
    for times in runs.values():
        for a, b in zip(times, times[1:], strict=False):
            if a >= storm_start_mark and b <= storm_end_mark:
                lateness.append(max(0.0, (b - a) - args.interval) * 1000)
    checks_during = sum(1 for times in runs.values() for t in times
                        if storm_start_mark <= t <= storm_end_mark)
    lag = daemon.monitoring.selfwatch.to_dict()["eventLoop"]
    groups = await daemon.store.run(
        lambda conn: conn.execute("SELECT COUNT(*) FROM error_groups").fetchone()[0])
    sampler.stop.set()
    rss_after = psutil.Process().memory_info().rss
    await daemon.shutdown()
    server.close()
    return {
        "mode": "burst" if args.burst else f"{args.errors} over {args.seconds:.0f} s",
        "errorsSubmitted": submitted, "rowsWritten": written,
        "dropped": health["dropped"], "maxPending": max_pending,
        "submitSeconds": round(submit_s, 2), "drainedSeconds": round(drained_s, 2),
        "insertRatePerS": round(written / drained_s),
        "batches": health["batches"], "groups": groups,
        "rssBaselineMB": round(baseline / 2**20, 1), "rssPeakMB": round(sampler.peak / 2**20, 1),
        "rssAfterMB": round(rss_after / 2**20, 1),
        "checksDuringStorm": checks_during,
        "checkLatenessMs": {"p50": round(statistics.median(lateness), 1) if lateness else None,
                            "p95": round(percentile(lateness, 0.95), 1),
                            "max": round(max(lateness), 1) if lateness else None},
        "loopLagMaxMs": lag["maxLagMs"], "loopBlocks": lag["blocks"],
        "services": args.services, "intervalS": args.interval,
    }


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--errors", type=int, default=100_000)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--services", type=int, default=50)
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--burst", action="store_true")
    from loguru import logger
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    print(json.dumps(asyncio.run(main(p.parse_args())), indent=2))
