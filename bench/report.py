"""Turn one results JSON into docs/benchmarks.md and a PNG chart beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench import report_false_alarms, report_zoo
from bench.report_page import splice

PEER_ORDER = ("soulfra-supervisor", "soulfra-reuse", "monit", "supervisord")
FAULT_TITLES = {"crash": "1 Crash (SIGKILL) → healthy, s",
                "hang": "2 Hang (SIGSTOP) → healthy, s",
                "errors": "3 Errors (HTTP 500) → healthy, s"}


def _peers(doc: dict[str, Any]) -> list[str]:
    seen = {p for r in doc["results"].values() for p in r}
    seen |= {e["what"].split("/")[1] for e in doc.get("errors", []) if e["what"].count("/")}
    return [p for p in PEER_ORDER if p in seen]


def _fault_cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    if not r.get("detects", True):
        return f"not detected (nothing within {r['bound_s']:g} s)"
    if "median_s" not in r:
        return f"not recovered within {r['bound_s']:g} s"
    cell = f"**{r['median_s']:.2f}** ({r['min_s']:.2f}–{r['max_s']:.2f})"
    if r.get("not_recovered"):
        cell += f", {r['not_recovered']}/{len(r['samples_s'])} not recovered"
    return cell


def _idle_cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    return f"**{r['cpu_s_per_min']:.2f}** CPU s/min ({r['cpu_percent']:.2f} %) · " \
           f"**{r['rss_mb']:.0f}** MB"


def _late(lat: dict[str, Any]) -> str:
    if "p99_s" not in lat:
        return "no data"
    mark = "≥ " if lat.get("p99_is_lower_bound") else ""
    return f"{lat['median_s']:.2f} / {mark}{lat['p99_s']:.2f} s"


def _scale_cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    per = r.get("cpu_s_per_1000_checks")
    per_s = f"{per:.2f}" if per is not None else "–"
    cell = (f"**{r['checks_per_s']:.0f}**/{r['target_checks_per_s']:.0f} checks/s · late "
            f"{_late(r['lateness'])} · {per_s} CPU s/1k checks ({r['cpu_percent']:.0f} %) · "
            f"{r['rss_mb']:.0f} MB")
    down = r.get("down_at_end")
    if down is not None:
        hung = r["paths"] // r["hang_every"] if r["hang_every"] else 0
        cell += f" · {down} held down at the end (hung: {hung})"
    return cell


def _push_cell(r: dict[str, Any] | None) -> str:
    if r is None:
        return "–"
    if "not_measured" in r:
        return f"not measured: {r['not_measured']}"
    parts = []
    for key, label in (("mqtt_last_will", "last-will"), ("heartbeat", "heartbeat")):
        v = r.get(key)
        if isinstance(v, dict) and "median_s" in v:
            parts.append(f"{label} **{v['median_s']:.2f}** ({v['min_s']:.2f}–{v['max_s']:.2f})")
        elif isinstance(v, dict) and "not_measured" in v:
            parts.append(f"{label}: not measured ({v['not_measured']})")
    return "; ".join(parts) or "–"


def table(doc: dict[str, Any]) -> list[str]:
    peers = _peers(doc)
    res = doc["results"]
    errors = {e["what"] for e in doc.get("errors", [])}
    lines = ["| scenario | " + " | ".join(peers) + " |",
             "|---|" + "---|" * len(peers)]

    def cell(scenario: str, peer: str, key: str | None, fmt: Any) -> str:
        label = f"{scenario}/{peer}" + (f"/{key}" if key else "")
        if label in errors:
            return "run failed (see JSON)"
        r = res.get(scenario, {}).get(peer)
        if key is not None:
            r = (r or {}).get(key)
        return str(fmt(r))

    for kind, title in FAULT_TITLES.items():
        if kind in res:
            lines.append(f"| {title} | " + " | ".join(
                cell(kind, p, None, _fault_cell) for p in peers) + " |")
    s = doc["settings"]
    if "idle" in res:
        for count, interval in s["idle"]:
            key = f"{count}@{interval:g}"
            lines.append(f"| 4 Idle, {count} service(s) checked every {interval:g} s | "
                         + " | ".join(cell("idle", p, key, _idle_cell) for p in peers) + " |")
    for mode, title in (("scale", "5 Scale"), ("stalls", "6 Scale, 1 % hung")):
        if not any(mode in v for r in res.get("scale", {}).values() for v in r.values()):
            continue
        for paths, interval in s["scale"]:
            key = f"{paths}@{interval:g}"
            row = []
            for p in peers:
                if p == "supervisord":
                    row.append("not applicable (no HTTP checks)")
                    continue
                row.append(cell("scale", p, key, lambda r, m=mode: _scale_cell(
                    (r or {}).get(m))))
            lines.append(f"| {title}: {paths:,} paths every {interval:g} s | "
                         + " | ".join(row) + " |")
    if "push" in res or "push/soulfra-supervisor" in errors:
        row = [cell("push", p, None, _push_cell) if p == "soulfra-supervisor"
               else "no such path" for p in peers]
        lines.append("| 7 Push detection: death → failing, s | " + " | ".join(row) + " |")
    return lines


def targets(doc: dict[str, Any]) -> list[str]:
    """The issue's targets for soulfra-supervisor, each with what this run measured."""
    res = doc["results"]
    s = doc["settings"]
    me = "soulfra-supervisor"
    out = ["| target | measured | met? |", "|---|---|---|"]

    def med(kind: str, peer: str) -> float | None:
        r = res.get(kind, {}).get(peer) or {}
        return r.get("median_s")

    def yes(ok: bool | None) -> str:
        return "–" if ok is None else ("yes" if ok else "**no**")

    crash, sv, mo = med("crash", me), med("crash", "supervisord"), med("crash", "monit")
    if crash is not None:
        ok = None if sv is None or mo is None else (crash <= sv * 1.1 and crash <= mo / 2)
        out.append(f"| crash → healthy no slower than supervisord, ≤ ½ Monit | {crash:.2f} s "
                   f"(supervisord {_f(sv)}, Monit {_f(mo)}) | {yes(ok)} |")
    start = sv if sv is not None else 0.5
    budget = s["interval_s"] + s["timeout_s"] + start
    for kind in ("hang", "errors"):
        v = med(kind, me)
        if v is not None:
            m = med(kind, "monit")
            ok = v <= budget and (m is None or v <= m * 1.1)
            out.append(f"| {kind} → healthy ≤ interval + timeout + start ({budget:.1f} s), "
                       f"no slower than Monit | {v:.2f} s (Monit {_f(m)}) | {yes(ok)} |")
    for paths, interval in s["scale"]:
        key = f"{paths}@{interval:g}"

        def row(peer: str, k: str = key) -> dict[str, Any]:
            return ((res.get("scale", {}).get(peer) or {}).get(k) or {}).get("scale") or {}

        sc, kept, mo = row(me), row("soulfra-reuse"), row("monit")
        per_k = {n: r.get("cpu_s_per_1000_checks") for n, r in
                 ((me, sc), ("soulfra-reuse", kept), ("monit", mo))}
        if per_k[me] is not None and per_k["monit"]:
            ok = per_k[me] <= 2 * per_k["monit"]
            out.append(f"| {paths:,} paths every {interval:g} s: CPU per 1,000 checks, fresh "
                       f"connections, ≤ 2× Monit | {per_k[me]:.2f} s (Monit "
                       f"{per_k['monit']:.2f} s: {per_k[me] / per_k['monit']:.1f}×) | "
                       f"{yes(ok)} |")
        if per_k["soulfra-reuse"] is not None and per_k["monit"]:
            ok = per_k["soulfra-reuse"] <= per_k["monit"]
            out.append(f"| {paths:,} paths every {interval:g} s: CPU per 1,000 checks, kept "
                       f"connections, ≤ Monit | {per_k['soulfra-reuse']:.2f} s (Monit "
                       f"{per_k['monit']:.2f} s: {per_k['soulfra-reuse'] / per_k['monit']:.1f}×)"
                       f" | {yes(ok)} |")
        for name, r in ((me, sc), ("soulfra-reuse", kept)):
            if not r:
                continue
            lat = r["lateness"]
            on_time = lat.get("p99_s", 1e9) < 0.1 and \
                r["checks_per_s"] >= 0.95 * r["target_checks_per_s"]
            if paths == 10000 and interval == 30:
                ok = on_time and r["cpu_percent"] < 10
                out.append(f"| 10,000 endpoints every 30 s ({name}): p99 lateness < 0.1 s, "
                           f"< 10 % of a core | {r['checks_per_s']:.0f} checks/s, p99 "
                           f"{_late(lat).split(' / ')[1]}, {r['cpu_percent']:.1f} % | "
                           f"{yes(ok)} |")
            if paths >= 50000:
                ok = on_time and r["cpu_percent"] < 100
                out.append(f"| {paths:,} endpoints every {interval:g} s ({name}): on time "
                           f"(p99 < 0.1 s) on one core | {r['checks_per_s']:.0f}/"
                           f"{r['target_checks_per_s']:.0f} checks/s, p99 "
                           f"{_late(lat).split(' / ')[1]}, {r['cpu_percent']:.0f} % | "
                           f"{yes(ok)} |")
        st = ((res.get("scale", {}).get(me) or {}).get(key) or {}).get("stalls")
        if sc and st:
            grew = st["lateness"].get("p99_s", 1e9) - sc["lateness"].get("p99_s", 0)
            # without stalls already past the window: growth cannot be told
            told = None if sc["lateness"].get("p99_is_lower_bound") else grew < 0.5
            out.append(f"| {paths:,} paths, 1 % hung: healthy paths' p99 lateness does not grow "
                       f"| {_late(sc['lateness']).split(' / ')[1]} → "
                       f"{_late(st['lateness']).split(' / ')[1]} | {yes(told)} |")
    for key, r in (res.get("idle", {}).get(me) or {}).items():
        count, interval = key.split("@")
        if int(count) == 20 and float(interval) == 30:
            ok = r["rss_mb"] <= 40 and r["cpu_percent"] < 0.5
            out.append(f"| idle, 20 services every 30 s: ≤ 40 MiB, < 0.5 % of a core | "
                       f"{r['rss_mb']:.0f} MB, {r['cpu_percent']:.2f} % | {yes(ok)} |")
    return out


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def markdown(doc: dict[str, Any], results_path: Path, chart: Path | None,
             docs_path: Path) -> str:
    m = doc["machine"]
    s = doc["settings"]
    v = doc["versions"]
    rel = os.path.relpath(results_path, docs_path.parent)
    lines = [
        "## soulfra-supervisor, Monit and supervisord side by side",
        "",
        f"Run {doc['started']} – {doc.get('finished', '?')} (UTC) on a shared machine: "
        f"{m['cpus']} cores, {m['memory_gb']} GB, {m['platform']}, Python {m['python']}; "
        f"other engineers' test suites ran at the same time. 1-minute load average: mean "
        f"**{m.get('load_1min_mean', '?')}** over the run (from "
        f"{min(x[1] for x in m['load_1min']):.2f} to {max(x[1] for x in m['load_1min']):.2f}"
        "; every value is in the JSON).",
        "",
        f"Command: `{doc['command']}`  ",
        f"Raw results: [{os.path.basename(results_path)}]({rel})  ",
        *[f"Re-run and taken from [{m['file']}]({os.path.join(os.path.dirname(rel), m['file'])})"
          f" ({m['started']}, load {m['load_1min_mean']}, `{m['command']}`): "
          f"{', '.join(m['results'])}  " for m in doc.get("merged", [])],
        f"Peers: soulfra-supervisor {v.get('soulfra-supervisor')}, Monit {v.get('monit')}, "
        f"supervisord {v.get('supervisord')} (Debian packages, system Python).",
        "",
        f"Every peer: check interval **{s['interval_s']:g} s** and timeout "
        f"**{s['timeout_s']:g} s** (scenarios 1–3, 7; scale and idle use the interval in their "
        f"row), act on the **first** failed check, restart by SIGTERM (2 s before SIGKILL). "
        f"Scenarios 1–3 repeat {s['repeat']} times: **median** (min–max), seconds from the "
        f"fault to the first HTTP 200 from a *new* process, polled every 20 ms. A fault not "
        f"repaired within {s['bound_s']:g} s is \"not recovered\"; a peer that cannot see the "
        f"fault at all is tried once and marked \"not detected\".",
        "",
        "### Medians",
        "",
        *table(doc),
        "",
    ]
    if chart is not None:
        lines += [f"![benchmarks]({os.path.relpath(chart, docs_path.parent)})", ""]
    findings = Path(__file__).with_name("findings.md")
    if findings.exists():
        lines += [findings.read_text().strip(), ""]
    lines += [
        "Reading the rows:",
        "- Idle (4): the peer's own processes (its tree minus the services it supervises): "
        "CPU seconds per minute of wall time (and as % of one core) and RSS at the end of the "
        f"window ({s['idle_window_s']:g} s, or two intervals if longer for a peer that checks).",
        "- Scale (5, 6): one server with N paths, measured *at the server*: checks/s achieved "
        "(of the target N / interval), lateness median / p99 of each healthy path's check "
        "against its interval (gap between two requests for the path minus the interval; "
        "\"≥\" means the p99 includes paths still not asked again at the end of the window, "
        "counted with the lateness they had reached), CPU seconds per 1,000 checks (and % of a "
        "core), RSS; for soulfra-supervisor also how many services it held for down at the end "
        "(false alarms beyond the hung ones). Window: two intervals, after 1.5 intervals of "
        "warm-up. The server is Python (asyncio): under load it is slow too, which lengthens "
        "Monit's serial cycle. In 6, every "
        f"{s['scale_hang_every']}th path accepts the connection and never answers.",
        "",
        "### Targets (soulfra-supervisor)",
        "",
        *targets(doc),
        "",
        "### What each peer cannot be told",
        "",
    ]
    for peer, notes in doc["limits"].items():
        for note in notes:
            lines.append(f"- **{peer}**: {note}")
    if doc.get("errors"):
        lines += ["", "### Failures during this run", ""]
        for e in doc["errors"]:
            lines.append(f"- `{e['what']}`: {e['error']}")
    lines += [
        "",
        "### Reproduce",
        "",
        "```",
        "bench/run                          # everything (about 30 minutes), then this page",
        "bench/run crash hang --repeat 3    # a subset; --peers monit,soulfra-supervisor",
        "bench/run --report-only bench/results/<run>.json   # this page from a saved run",
        "```",
        "",
        "`bench/run` installs Monit and supervisord from Debian (apt-get, as root) when they "
        "are missing; supervisord runs under the system Python and is never installed into "
        "the project's .venv (its import package is also called `supervisor`). All traffic "
        "stays on 127.0.0.1, and every process the run starts is stopped by pid at the end, "
        "also on an error or Ctrl-C. `tests/e2e/test_bench_smoke.py` runs the crash scenario once "
        "in `scripts/test` so that the suite cannot rot unnoticed.",
        "",
    ]
    return "\n".join(lines)


def chart(doc: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    res = doc["results"]
    peers = _peers(doc)
    colors = {"soulfra-supervisor": "#2a7ab0", "soulfra-reuse": "#6cb6e0", "monit": "#d9822b",
              "supervisord": "#7a7a7a"}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    width = 0.8 / max(1, len(peers))

    ax = axes[0]
    kinds = [k for k in FAULT_TITLES if k in res]
    for j, p in enumerate(peers):
        for i, k in enumerate(kinds):
            r = res[k].get(p)
            x = i + (j - (len(peers) - 1) / 2) * width
            if r and "median_s" in r:
                ax.bar(x, r["median_s"], width, color=colors[p],
                       yerr=[[r["median_s"] - r["min_s"]], [r["max_s"] - r["median_s"]]],
                       capsize=3, label=p if i == 0 else None)
            elif r:
                ax.text(x, 0.1, "not\ndetected", ha="center", va="bottom", fontsize=7,
                        rotation=90, color=colors[p])
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylabel("fault → healthy again, s (median, min–max)")
    ax.set_title(f"Repair time, interval {doc['settings']['interval_s']:g} s")
    _legend(ax)

    ax = axes[1]
    keys = [f"{c}@{i:g}" for c, i in doc["settings"]["idle"]]
    for j, p in enumerate(peers):
        vals = [((res.get("idle", {}).get(p) or {}).get(k) or {}).get("cpu_percent", 0)
                for k in keys]
        xs = [i + (j - (len(peers) - 1) / 2) * width for i in range(len(keys))]
        ax.bar(xs, vals, width, color=colors[p], label=p)
    ax.set_xticks(range(len(keys)), [k.replace("@", " svc @ ") + " s" for k in keys])
    ax.set_ylabel("% of one core")
    ax.set_title("Idle cost (CPU)")
    _legend(ax)

    ax = axes[2]
    labels = []
    pollers = [p for p in peers if p != "supervisord"]
    bars: dict[str, list[float]] = {p: [] for p in pollers}
    for paths, interval in doc["settings"]["scale"]:
        for mode in ("scale", "stalls"):
            labels.append(f"{paths // 1000}k{' 1% hung' if mode == 'stalls' else ''}")
            for p in pollers:
                r = (((res.get("scale", {}).get(p) or {}).get(f"{paths}@{interval:g}") or {})
                     .get(mode) or {})
                bars[p].append(max(r.get("lateness", {}).get("p99_s", 0), 0.001))
    w2 = 0.8 / max(1, len(pollers))
    for j, p in enumerate(pollers):
        xs = [i + (j - (len(pollers) - 1) / 2) * w2 for i in range(len(labels))]
        ax.bar(xs, bars[p], w2, color=colors[p], label=p)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("p99 lateness of healthy paths, s (log)")
    ax.set_title("Scale: lateness measured at the server")
    _legend(ax)

    fig.suptitle(f"soulfra-supervisor vs Monit vs supervisord — {doc['started'][:10]}, "
                 f"{doc['machine']['cpus']} shared cores, "
                 f"load {doc['machine'].get('load_1min_mean')}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def merge(doc: dict[str, Any], other: dict[str, Any], path: Path) -> None:
    """Take `other`'s results over `doc`'s, scenario by scenario and peer by peer."""
    taken = []
    for scenario, peers in other["results"].items():
        for peer, value in peers.items():
            doc["results"].setdefault(scenario, {})[peer] = value
            taken.append(f"{scenario}/{peer}")
    doc.setdefault("merged", []).append({
        "file": path.name, "command": other["command"], "started": other["started"],
        "load_1min_mean": other["machine"].get("load_1min_mean"), "results": taken})


def _legend(ax: Any) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


# The scenarios of the side-by-side section; the others write sections of their own.
MAIN_SCENARIOS = ("crash", "hang", "errors", "idle", "scale", "push")


def write(doc: dict[str, Any], docs_path: Path, results_path: Path) -> None:
    """Regenerate the sections this run has results for (a run of `zoo` alone leaves the
    side-by-side section as it was)."""
    docs_path.parent.mkdir(parents=True, exist_ok=True)
    page = docs_path.read_text() if docs_path.exists() else ""
    failed = {e["what"].split("/")[0] for e in doc.get("errors", [])}
    if any(k in doc["results"] or k in failed for k in MAIN_SCENARIOS):
        png = docs_path.with_suffix(".png")
        drawn = chart(doc, png)
        if not drawn:
            print("matplotlib is not installed (pip install -e '.[bench]'): no chart")
        page = splice(page, markdown(doc, results_path, png if drawn else None, docs_path))
    for part in (report_false_alarms, report_zoo):
        if part.SCENARIO in doc["results"] or part.SCENARIO in failed:
            page = splice(page, part.markdown(doc, results_path, docs_path), part.SCENARIO)
    docs_path.write_text(page)
