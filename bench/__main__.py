"""bench: run the scenarios against soulfra-supervisor, Monit and supervisord; write the report.

    bench/run                      every scenario, every peer, then docs/benchmarks.md + chart
    bench/run crash hang --repeat 3 --peers monit,soulfra-supervisor
    bench/run --report-only bench/results/<run>.json
    bench/run false-alarms         healthy services under stress: every failure is a false one
    bench/run zoo --repeat 3       the fault zoo (supervisor/selftest/catalogue), Monit beside it
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench import false_alarms, faults, idle, push, report, scale, zoo
from bench.peers import LIMITS, PEERS, Checks, Soulfra, peer_versions, peers_missing
from bench.procs import Reaper, become_subreaper

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ("crash", "hang", "errors", "idle", "scale", "stalls", "push", "false-alarms",
             "zoo")


def _pairs(text: str) -> list[tuple[int, float]]:
    """'1@2,100@2' -> [(1, 2.0), (100, 2.0)]: count @ interval in seconds."""
    out = []
    for part in text.split(","):
        count, _, interval = part.partition("@")
        out.append((int(count), float(interval)))
    return out


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                   help=f"any of {', '.join(SCENARIOS)} (default: all)")
    p.add_argument("--peers", default=",".join(PEERS), help="comma-separated peer names")
    p.add_argument("--repeat", type=int, default=5, help="repetitions of scenarios 1-3 and 7")
    p.add_argument("--interval", type=float, default=2.0, help="check interval, s (1-3, 7)")
    p.add_argument("--timeout", type=float, default=2.0, help="check timeout, s (every one)")
    p.add_argument("--bound", type=float, default=20.0,
                   help="s after which a fault counts as not recovered")
    p.add_argument("--idle", type=_pairs, default=_pairs("1@2,100@2,20@30"),
                   help="services@interval pairs for scenario 4")
    p.add_argument("--idle-window", type=float, default=20.0,
                   help="s of sampling (at least 2 intervals are used)")
    p.add_argument("--scale", type=_pairs, default=_pairs("1000@10,10000@30"),
                   help="paths@interval pairs for scenarios 5-6")
    p.add_argument("--fa-window", type=float, default=30.0,
                   help="false-alarms: s of each stress condition")
    p.add_argument("--fa-services", type=int, default=3,
                   help="false-alarms: supervised services per group (plain, slow)")
    p.add_argument("--fa-endpoints", type=_pairs, default=_pairs("1000@2"),
                   help="false-alarms: endpoints@interval checked all along")
    p.add_argument("--zoo-faults", default="",
                   help="zoo: comma-separated fault names (default: the whole catalogue)")
    p.add_argument("--zoo-parallel", type=int, default=6,
                   help="zoo: faults injected at once in the catalogue part (as selftest)")
    p.add_argument("--zoo-bound", type=float, default=45.0,
                   help="zoo: s after which a fault counts as not healed")
    p.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    p.add_argument("--docs", type=Path, default=ROOT / "docs" / "benchmarks.md",
                   help="report to regenerate (the chart goes beside it)")
    p.add_argument("--no-report", action="store_true", help="write the JSON only")
    p.add_argument("--keep", action="store_true", help="keep the run's logs and configs")
    p.add_argument("--profile", type=Path, metavar="DIR",
                   help="run soulfra-supervisor under cProfile; .prof files go to DIR")
    p.add_argument("--soulfra-root", type=Path, metavar="DIR",
                   help="run soulfra-supervisor from this checkout (e.g. a worktree of an "
                        "older commit, for a before/after); its Python deps must be installed")
    p.add_argument("--report-only", type=Path, metavar="RESULTS_JSON",
                   help="regenerate the report from a results file; run nothing")
    p.add_argument("--merge", type=Path, action="append", default=[], metavar="RESULTS_JSON",
                   help="with --report-only: take these runs' results over the first one's, "
                        "peer by peer (e.g. a scenario re-run after a fix); the page says so")
    args = p.parse_args(argv)
    # absolute: the zoo's daemons run in folders of their own
    args.results_dir, args.docs = args.results_dir.resolve(), args.docs.resolve()
    args.scenarios = args.scenarios or list(SCENARIOS)
    wrong = [s for s in args.scenarios if s not in SCENARIOS]
    if wrong:
        p.error(f"unknown scenario(s) {wrong}; known: {', '.join(SCENARIOS)}")
    args.peers = [n.strip() for n in args.peers.split(",") if n.strip()]
    unknown = [n for n in args.peers if n not in PEERS]
    if unknown:
        p.error(f"unknown peer(s) {unknown}; known: {', '.join(PEERS)}")
    return args


def _load() -> float:
    return os.getloadavg()[0]


class Run:
    def __init__(self, args: argparse.Namespace, argv: list[str]) -> None:
        self.args = args
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        self.stamp = stamp
        self.workdir = args.results_dir / "tmp" / stamp
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.reaper = Reaper(self.workdir)
        self.doc: dict[str, Any] = {
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": "bench/run " + shlex.join(argv) if argv else "bench/run",
            "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(
                psutil.virtual_memory().total / 2**30, 1), "platform": platform.platform(),
                "python": platform.python_version(), "note": "shared: other test suites ran "
                "at the same time", "load_1min": []},
            "settings": {"interval_s": args.interval, "timeout_s": args.timeout,
                         "error_threshold": 1, "repeat": args.repeat, "bound_s": args.bound,
                         "idle": args.idle, "idle_window_s": args.idle_window,
                         "scale": args.scale, "scale_hang_every": scale.HANG_EVERY},
            "versions": peer_versions(), "limits": LIMITS, "results": {}, "errors": []}

    def note_load(self, what: str) -> None:
        self.doc["machine"]["load_1min"].append([what, round(_load(), 2)])

    def record(self, scenario: str, peer: str, key: str | None, fn: Any) -> None:
        label = f"{scenario}/{peer}" + (f"/{key}" if key else "")
        self.note_load(label)
        print(f"[{datetime.now(UTC):%H:%M:%S}] {label} (load {_load():.2f})", flush=True)
        started = time.monotonic()
        try:
            value = fn()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            self.doc["errors"].append({"what": label, "error": repr(exc),
                                       "traceback": traceback.format_exc(limit=8)})
            print(f"  failed: {exc!r}", flush=True)
            return
        slot = self.doc["results"].setdefault(scenario, {}).setdefault(peer, {})
        if key:
            slot[key] = value
        else:
            slot.update(value)
        print(f"  {time.monotonic() - started:.0f} s: {_brief(value)}", flush=True)

    def checks(self, interval: float | None = None) -> Checks:
        return Checks(interval or self.args.interval, self.args.timeout)

    def execute(self) -> None:
        a = self.args
        for kind in faults.KINDS:
            if kind in a.scenarios:
                for name in a.peers:
                    if PEERS[name].scale_only:
                        continue
                    self.record(kind, name, None, lambda k=kind, n=name: faults.run(
                        k, PEERS[n], self.reaper, self.workdir / f"{k}-{n}", self.checks(),
                        a.repeat, a.bound))
        if "idle" in a.scenarios:
            for count, interval in a.idle:
                for name in a.peers:
                    if PEERS[name].scale_only:
                        continue
                    # two intervals at least, for a peer that checks at all
                    polls = PEERS[name].polls_http
                    window = max(a.idle_window, 2 * interval) if polls else a.idle_window
                    self.record("idle", name, f"{count}@{interval:g}", lambda c=count, i=interval,
                                n=name, w=window: idle.run(
                        PEERS[n], self.reaper, self.workdir / f"idle-{c}-{n}", c,
                        self.checks(i), w))
        plain, stalls = "scale" in a.scenarios, "stalls" in a.scenarios
        if plain or stalls:
            for paths, interval in a.scale:
                for name in a.peers:
                    if not PEERS[name].polls_http:
                        continue
                    self.record("scale", name, f"{paths}@{interval:g}",
                                lambda p=paths, i=interval, n=name: scale.run(
                                    PEERS[n], self.reaper, self.workdir / f"scale-{p}-{n}", p,
                                    self.checks(i), 2 * i, stalls, plain))
        if "false-alarms" in a.scenarios and "soulfra-supervisor" in a.peers:
            [(endpoints, every)] = a.fa_endpoints[:1]
            self.record("false-alarms", "soulfra-supervisor", None, lambda: false_alarms.run(
                self.reaper, self.workdir / "false-alarms", self.checks(), a.fa_services,
                endpoints, every, a.fa_window))
        if "zoo" in a.scenarios:
            names = [n.strip() for n in a.zoo_faults.split(",") if n.strip()]
            self.record("zoo", "all", None, lambda: zoo.run(
                self.reaper, self.workdir / "zoo", a.peers, a.repeat, a.zoo_bound,
                a.zoo_parallel, names))
        if "push" in a.scenarios and "soulfra-supervisor" in a.peers:
            self.record("push", "soulfra-supervisor", None, lambda: push.run(
                self.reaper, self.workdir / "push", a.repeat, a.bound))

    def save(self) -> Path:
        self.note_load("end")
        self.doc["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        loads = [v for _, v in self.doc["machine"]["load_1min"]]
        self.doc["machine"]["load_1min_mean"] = round(sum(loads) / len(loads), 2)
        path = self.args.results_dir / f"{self.stamp}.json"
        path.write_text(json.dumps(self.doc, indent=1) + "\n")
        return path


def _brief(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) < 300 else text[:297] + "..."


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.report_only:
        doc = json.loads(args.report_only.read_text())
        for extra in args.merge:
            report.merge(doc, json.loads(extra.read_text()), extra)
        if args.merge:
            doc["limits"] = LIMITS  # the newest wording
        report.write(doc, args.docs, args.report_only)
        print(f"wrote {args.docs}")
        return 0
    missing = [m for m in peers_missing() if m in args.peers]
    if missing:
        print(f"missing peer programs: {', '.join(missing)} (bench/run installs them with "
              "apt-get as root)", file=sys.stderr)
        return 2
    if args.profile:
        Soulfra.profile_dir = args.profile.resolve()
    if args.soulfra_root:
        Soulfra.root = args.soulfra_root.resolve()
    run = Run(args, argv)
    become_subreaper(run.reaper.own_pids)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    interrupted = False
    try:
        run.execute()
    except KeyboardInterrupt:
        interrupted = True
        run.doc["errors"].append({"what": "run", "error": "interrupted"})
        print("interrupted: stopping everything this run started", file=sys.stderr)
    finally:
        run.reaper.sweep()
    path = run.save()
    print(f"results: {path}")
    if not args.no_report and not interrupted:
        report.write(run.doc, args.docs, path)
        print(f"report: {args.docs}")
    if not run.doc["errors"] and not args.keep:
        import shutil
        shutil.rmtree(run.workdir, ignore_errors=True)
    else:
        print(f"logs kept in {run.workdir}", file=sys.stderr)
    return 1 if run.doc["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
