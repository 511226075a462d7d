"""A misbehaving process for tests: leaks memory, opens files, starts threads, or spins."""

from __future__ import annotations

import argparse
import os
import threading
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["leak", "files", "threads", "spin", "idle"])
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    hoard: list[object] = []
    print("ready", flush=True)
    while True:
        if args.mode == "leak":
            hoard.append(bytearray(os.urandom(1)) * (2 * 1_048_576))  # 2 MB, touched
            time.sleep(0.05)
        elif args.mode == "files" and len(hoard) < 300:
            hoard.append(open(os.devnull))  # noqa: SIM115
            time.sleep(0.005)
        elif args.mode == "threads" and len(hoard) < 60:
            t = threading.Thread(target=threading.Event().wait, daemon=True)
            t.start()
            hoard.append(t)
            time.sleep(0.01)
        elif args.mode == "spin":
            pass
        else:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
