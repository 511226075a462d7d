"""The store's own insert rate: error rows built beforehand, then queued and committed by the
batched writer (insert + fingerprint + group and hourly upserts), timed from first submit to
the last commit.

    .venv/bin/python bench/store_insert_rate.py --rows 50000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from supervisor.core.incidents import error_row  # noqa: E402
from supervisor.core.taxonomy import LOST, REFUSED, TIMEOUT  # noqa: E402
from supervisor.store.database import Store  # noqa: E402


async def main(args: argparse.Namespace) -> dict[str, object]:
    store = Store(Path(tempfile.mkdtemp(prefix="insert-bench-")) / "supervisor.db",
                  max_pending=args.rows + 10)
    await store.open()
    classes = [TIMEOUT, REFUSED, LOST]
    t0 = time.perf_counter()
    rows = [error_row(classes[i % 3], f"svc{i % 50}",
                      f"no answer from http://127.0.0.1:{8000 + i % 50}/health within "
                      f"{1000 + i % 900} ms", env={"host": "bench"}) for i in range(args.rows)]
    built = time.perf_counter() - t0
    t1 = time.perf_counter()
    for row in rows:
        store.submit_error(row)
    await store.flush(within=600)
    written = time.perf_counter() - t1
    health = store.write_health()
    await store.close()
    return {"rows": args.rows, "buildRowsSeconds": round(built, 2),
            "buildUsPerRow": round(built / args.rows * 1e6, 1),
            "writeSeconds": round(written, 2), "insertRatePerS": round(args.rows / written),
            "batches": health["batches"], "written": health["written"],
            "dropped": health["dropped"]}


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=50_000)
    print(json.dumps(asyncio.run(main(p.parse_args())), indent=2))
