"""`soulfra-supervisor selftest`: break throwaway services on this machine and show that the
daemon heals them. Exit 0 only when every row that ran passed; 1 otherwise; 2 for a bad
--only. SIGTERM is turned into the same path as Ctrl-C (an exception), so the runner's
cleanup in `finally` always runs: the daemon, every service and helper stopped by pid, the
temporary folder removed.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType
from typing import Any

EXIT_INTERRUPTED = 130


class Terminated(Exception):
    pass


def add_parser(sub: Any) -> None:
    st = sub.add_parser("selftest", help="inject real faults into throwaway services and show "
                                         "the daemon healing them; exit 0 when all pass")
    st.add_argument("--only", action="append", metavar="NAME",
                    help="run only this fault (repeatable, or comma-separated)")
    st.add_argument("--all", action="store_true",
                    help="the whole zoo, not only the quick dozen (slower)")
    st.add_argument("--list", action="store_true", help="list the faults and exit")
    st.add_argument("--json", action="store_true", help="print the rows as JSON")
    st.add_argument("--bound", type=float, default=45.0,
                    help="seconds a fault may take to heal (default 45)")
    st.add_argument("--parallel", type=int, default=6,
                    help="faults injected at once (default 6)")
    st.add_argument("--keep", action="store_true",
                    help="keep the temporary folder (the daemon's log, services.json, each "
                         "fault's files) to read a failure; processes are stopped anyway")
    st.set_defaults(fn=cmd_selftest)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def cmd_selftest(args: argparse.Namespace) -> int:
    from supervisor.selftest import catalogue
    from supervisor.selftest.runner import Runner
    from supervisor.selftest.table import all_passed, line, render

    if args.list:
        for f in catalogue.ALL:
            why = f.missing()
            mark = "*" if f.quick else " "
            print(f"{mark} {f.name:18} {f.what}" + (f"  [skipped here: {why}]" if why else ""))
        print("\n* = in the default run")
        return 0
    names = [n.strip() for part in args.only or [] for n in part.split(",") if n.strip()]
    try:
        faults = catalogue.by_name(names) if names else (
            catalogue.ALL if args.all else catalogue.QUICK)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2

    def progress(row: Any) -> None:
        if not args.json:
            print(line(row), flush=True)

    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    runner = Runner(faults, bound_s=args.bound, parallel=args.parallel, progress=progress)
    started = time.monotonic()
    try:
        if not args.json:
            print(f"selftest: {len(faults)} fault(s), one throwaway daemon, files in "
                  f"{runner.root}\n", flush=True)
        rows = runner.run()
    except (KeyboardInterrupt, Terminated):
        print("\nselftest interrupted: cleaning up", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as exc:  # the daemon under test did not start: nothing to measure
        print(f"selftest: {exc}", file=sys.stderr)
        return 1
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            runner.close(keep=args.keep)
        finally:
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, previous)
    took = time.monotonic() - started
    if args.json:
        print(json.dumps({"rows": [r.to_dict() for r in rows], "seconds": round(took, 1),
                          "passed": all_passed(rows)}, indent=2))
    else:
        print("\n" + render(rows) + f"  ({took:.0f} s)")
        if args.keep:
            print(f"kept: {runner.root} (daemon.log, services.json, lab/)")
    return 0 if all_passed(rows) else 1
