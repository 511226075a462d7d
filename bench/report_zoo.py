"""The fault-zoo section of docs/benchmarks.md (bench/run zoo), with its chart beside it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.report_page import run_header

SCENARIO = "zoo"
HUMAN = "alert"  # the outcome of a fault that by design needs a human (alerted, not repaired)


def _s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _side(r: dict[str, Any] | None) -> str:
    if r is None:
        return "no equivalent"
    if r.get("not_started") and not r["runs"]:
        return "its services never came up under this peer (the catalogue's block)"
    if "median_s" not in r:
        return f"not healed in {r['runs']} runs (bound {r['bound_s']:g} s)"
    cell = f"**{r['median_s']:.2f}** ({r['min_s']:.2f}–{r['max_s']:.2f})"
    if r["healed"] < r["runs"]:
        cell += f", {r['runs'] - r['healed']}/{r['runs']} not healed"
    if r["harmful"]:
        cell += f", harmful: {len(r['harmful'])}"
    return cell


def rows(z: dict[str, Any]) -> list[str]:
    cat = z.get("catalogue", {})
    side = z.get("side_by_side", {})
    lines = ["| fault | injected | expected | detected as (runs) | healed by | detect, s | "
             "healthy, s (daemon's API) | harmful | passed | healthy, s, outside: "
             "soulfra-supervisor | healthy, s, outside: Monit |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in z["faults"]:
        c = cat.get(name)
        soul = side.get("soulfra-supervisor", {}).get(name)
        monit = side.get("monit", {}).get(name)
        if name in z.get("skipped", {}):
            lines.append(f"| {name} | | | skipped: {z['skipped'][name]} | | | | | | | |")
            continue
        if not soul and not monit and c is not None and c["outcome"] != "heal":
            soul_cell = monit_cell = f"not compared ({c['outcome']}: nothing to repair)"
        else:
            soul_cell, monit_cell = _side(soul) if soul or monit else "–", \
                _side(monit) if soul or monit else "no equivalent"
        if c is None:
            lines.append(f"| {name} | | | not run | | | | | | {_side(soul)} | {_side(monit)} |")
            continue
        expected = c["outcome"] + (f": {c['strategy']}" if c["strategy"] else "")
        healthy = _s(c.get("healthy_median_s"))
        if c.get("healthy_max_s") is not None:
            healthy += f" (max {c['healthy_max_s']:.2f})"
        lines.append(
            f"| {name} | {c['what']} | {expected} | {c['detected_as'] or '–'} "
            f"({c['detected']}/{c['runs']}) | {c['healed_by'] or '–'} | "
            f"{_s(c.get('detect_median_s'))} | {healthy} | {len(c['harmful'])} | "
            f"{c['passed']}/{c['runs']} | {soul_cell} | {monit_cell} |")
    return lines


def targets(z: dict[str, Any], doc: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The issue's targets with what this run measured, and the faults not healed (why)."""
    cat = z.get("catalogue", {})
    repairable = {n: c for n, c in cat.items() if c["outcome"] != HUMAN and c["runs"]}
    runs = sum(c["runs"] for c in repairable.values())
    passed = sum(c["passed"] for c in repairable.values())
    pct = 100 * passed / runs if runs else 0.0
    human = [n for n, c in cat.items() if c["outcome"] == HUMAN]
    soul = z.get("side_by_side", {}).get("soulfra-supervisor", {})
    monit = z.get("side_by_side", {}).get("monit", {})
    slower = [f"{n} ({soul.get(n, {}).get('median_s', float('inf')):.2f} s vs Monit "
              f"{m['median_s']:.2f} s)" for n, m in monit.items()
              if "median_s" in m and soul.get(n, {}).get("median_s", float("inf"))
              > m["median_s"]]
    compared = sum(1 for m in monit.values() if "median_s" in m)
    harmful = sum(len(c["harmful"]) for c in cat.values()) + \
        sum(len(r["harmful"]) for r in soul.values())
    fa = (doc["results"].get("false-alarms") or {}).get("soulfra-supervisor")

    def yes(ok: bool) -> str:
        return "yes" if ok else "**no**"

    out = ["| target | measured | met? |", "|---|---|---|",
           f"| ≥ 95 % of the zoo healed without a human | {passed}/{runs} runs of "
           f"{len(repairable)} faults passed ({pct:.0f} %); by design a human's (alerted, "
           f"not repaired): {', '.join(human) or 'none'} | {yes(pct >= 95)} |",
           f"| time to healthy ≤ Monit's on every fault Monit heals | slower on "
           f"{len(slower)} of {compared}{': ' + '; '.join(slower) if slower else ''} | "
           f"{yes(not slower) if compared else '–'} |",
           f"| zero harmful actions | {harmful} | {yes(harmful == 0)} |"]
    if fa:
        t = fa["total"]
        out.append(f"| zero false failures in the stress run | {t['false_failures']} in "
                   f"{t['checks']:,} checks, {t['false_restarts']} false restarts | "
                   f"{yes(t['false_failures'] == 0 and t['false_restarts'] == 0)} |")
    else:
        out.append("| zero false failures in the stress run | see the false-alarm section "
                   "(bench/run false-alarms) | – |")
    missed = []
    for n, c in cat.items():
        if c["runs"] and c["passed"] < c["runs"]:
            missed.append(f"- **{n}** ({c['passed']}/{c['runs']} passed): "
                          f"{'; '.join(c['why']) or 'see the JSON'}")
    for n in human:
        missed.append(f"- **{n}**: by design a human's; the row passes when the daemon "
                      f"detected and alerted it without acting.")
    return out, missed


def markdown(doc: dict[str, Any], results_path: Path, docs_path: Path) -> str:
    lines = ["## The fault zoo, side by side with Monit (bench/run zoo)", "",
             *run_header(doc, results_path, docs_path), ""]
    z = (doc["results"].get(SCENARIO) or {}).get("all")
    if not z:
        return "\n".join([*lines, "The run failed: see the JSON's errors.", ""])
    png = docs_path.with_name(docs_path.stem + "-zoo.png")
    drawn = chart(z, png, doc)
    lines += [
        f"{len(z['faults'])} faults of `supervisor/selftest/catalogue`, each injected for real "
        f"(signals, requests that make the throwaway service misbehave, files changed, disks "
        f"filled), {z['repeat']} repetitions. The left columns are the catalogue as "
        f"`soulfra-supervisor selftest` runs it: one daemon, the catalogue's own settings "
        f"(interval 1 s, timeout 1 s, errorThreshold 2), {z['parallel']} faults at a time, "
        f"read from the daemon's API (detect: injection → first transition away from healthy; "
        f"healthy: → healthy again, every service of the fault healthy and the fault's own "
        f"condition met; harmful: an acting recovery of a service the fault did not call for, "
        f"or harm only the fault can see). Medians over the repetitions; bound "
        f"{z['bound_s']:g} s unless a fault has its own. The right columns are the faults to "
        f"repair that the catalogue gives a Monit equivalent for, injected again one at a "
        f"time against each peer on fresh services and measured the same way from outside "
        f"both (injection → GET /health answers 200 — a server accepts connections, a "
        f"filesystem is under its limits — after it was seen failing or the pid changed, and the "
        f"fault's condition holds; Monit cycle 1 s, soulfra interval 1 s, both acting on the "
        f"first failed check)"
        + (f"; each injection at a random point of a {z['phase_s']:g} s cycle (a fixed pause "
           f"after the previous repair had locked them to just before Monit's next cycle)"
           if z.get("phase_s") else "")
        + ": median (min–max), s.",
        "",
        *rows(z),
        "",
    ]
    if drawn:
        lines += [f"![fault zoo]({os.path.relpath(png, docs_path.parent)})", ""]
    for peer, error in (z.get("errors") or {}).items():
        lines += [f"Side by side, {peer}: the run broke off ({error}); see the JSON.", ""]
    tgt, missed = targets(z, doc)
    lines += ["### Targets (the zoo and the stress run)", "", *tgt, ""]
    if missed:
        lines += ["### Not healed, and why", "", *missed, ""]
    lines += ["Reproduce: `bench/run zoo --repeat 3` (`--zoo-faults crash,hang` for a few, "
              "`--peers soulfra-supervisor` without Monit); `soulfra-supervisor selftest` is "
              "the quick version of the left columns on a user's machine.", ""]
    return "\n".join(lines)


def chart(z: dict[str, Any], path: Path, doc: dict[str, Any]) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    cat = z.get("catalogue", {})
    side = z.get("side_by_side", {})
    names = [n for n in z["faults"] if n in cat or any(n in r for r in side.values())]
    if not names:
        return False
    series = [("soulfra-supervisor (catalogue, API)", "#9ecae1",
               [cat.get(n, {}).get("healthy_median_s") for n in names]),
              ("soulfra-supervisor (outside)", "#2a7ab0",
               [side.get("soulfra-supervisor", {}).get(n, {}).get("median_s") for n in names]),
              ("Monit (outside)", "#d9822b",
               [side.get("monit", {}).get(n, {}).get("median_s") for n in names])]
    fig, ax = plt.subplots(figsize=(max(8, 0.6 * len(names)), 4.8))
    width = 0.8 / len(series)
    for j, (label, color, vals) in enumerate(series):
        xs = [i + (j - 1) * width for i in range(len(names))]
        ax.bar([x for x, v in zip(xs, vals, strict=True) if v is not None],
               [v for v in vals if v is not None], width, color=color, label=label)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("fault → healthy again, s (median)")
    ax.set_title(f"Fault zoo: time to healthy — {doc['started'][:10]}, "
                 f"load {doc['machine'].get('load_1min_mean')}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True
