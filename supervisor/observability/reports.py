"""Periodic health reports: status per service, uptime, incidents, recoveries, top error groups
and the hourly trend, written as JSON and Markdown under <data dir>/reports/."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supervisor.core.state import StateTracker
from supervisor.core.uptime import uptime_percent
from supervisor.store.database import Store


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def build_report(store: Store, tracker: StateTracker, window_s: float,
                       now: float | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    now = time.time() if now is None else now
    since = now - window_s
    transitions = await store.transitions(since)
    names = set(tracker.services) | {t["service"] for t in transitions}
    incidents: dict[str, int] = {}
    for t in transitions:
        if t["at"] >= since and t["state"] == "failing":
            incidents[t["service"]] = incidents.get(t["service"], 0) + 1
    recoveries = await store.list_recoveries(since, limit=100_000)
    by_service_rec: dict[str, dict[str, int]] = {}
    for r in recoveries:
        d = by_service_rec.setdefault(r["service"], {})
        d[r["status"]] = d.get(r["status"], 0) + 1
    services = {}
    for name in sorted(names):
        st = tracker.services.get(name)
        services[name] = {
            "status": str(st.state) if st else "removed",
            "uptimePercent": round(uptime_percent(transitions, since, now, {name}), 3),
            "incidents": incidents.get(name, 0),
            "recoveries": by_service_rec.get(name, {}),
        }
    summary = await store.error_summary(since)
    groups = await store.error_groups(since=since, limit=10, sort="count")
    trend = await store.trends(since, now, 3600)
    auto_ok = sum(1 for r in recoveries if r["status"] == "succeeded"
                  and r["requested_by"] == "auto")
    return {
        "generatedAt": _iso(now),
        "window": {"from": _iso(since), "to": _iso(now), "hours": round(window_s / 3600, 2)},
        "uptimePercent": round(uptime_percent(transitions, since, now, names), 3),
        "services": services,
        "errors": {**summary, "byCategory": await store.errors_by("category", since)},
        "incidents": sum(incidents.values()),
        "recoveries": {"total": len(recoveries), "autoSucceeded": auto_ok,
                       "failed": sum(1 for r in recoveries if r["status"] == "failed")},
        "topErrorGroups": [{"fingerprint": g["fingerprint"], "service": g["service"],
                            "category": g["category"], "message": g["message"],
                            "count": g["count"], "status": g["status"],
                            "regressed": bool(g["regressed"]),
                            "lastSeen": _iso(g["last_seen"])} for g in groups],
        "trend": [{"hour": _iso(b["start"]), "total": b["total"], "byCategory": b["byCategory"]}
                  for b in trend],
        "generationMs": round((time.perf_counter() - started) * 1000, 1),
    }


def to_markdown(r: dict[str, Any]) -> str:
    lines = [f"# Health report {r['generatedAt']}", "",
             f"Window: {r['window']['from']} to {r['window']['to']} "
             f"({r['window']['hours']} h). Overall uptime **{r['uptimePercent']:.2f} %**, "
             f"{r['incidents']} incident(s), {r['recoveries']['total']} recovery run(s) "
             f"({r['recoveries']['autoSucceeded']} automatic successes, "
             f"{r['recoveries']['failed']} failed).", "",
             "## Services", "", "| service | status | uptime % | incidents | recoveries |",
             "|---|---|---|---|---|"]
    for name, s in r["services"].items():
        rec = ", ".join(f"{k} {v}" for k, v in sorted(s["recoveries"].items())) or "-"
        lines.append(f"| {name} | {s['status']} | {s['uptimePercent']:.2f} | {s['incidents']} "
                     f"| {rec} |")
    e = r["errors"]
    lines += ["", "## Errors", "",
              f"{e['total']} error(s): {e['recovered']} recovered, {e['pending']} pending, "
              f"{e['failed']} failed.", ""]
    if e["byCategory"]:
        lines += ["| category | count |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in e["byCategory"].items()]
    lines += ["", "## Top error groups", ""]
    if r["topErrorGroups"]:
        lines += ["| count | service | category | message | status |", "|---|---|---|---|---|"]
        for g in r["topErrorGroups"]:
            msg = str(g["message"]).replace("|", "\\|")[:120]
            status = g["status"] + (" (regressed)" if g["regressed"] else "")
            lines.append(f"| {g['count']} | {g['service'] or '-'} | {g['category']} | {msg} "
                         f"| {status} |")
    else:
        lines.append("None.")
    lines += ["", "## Trend (errors per hour)", ""]
    if r["trend"]:
        peak = max(b["total"] for b in r["trend"]) or 1
        for b in r["trend"]:
            bar = "#" * max(1, round(30 * b["total"] / peak)) if b["total"] else ""
            lines.append(f"    {b['hour']}  {b['total']:>7}  {bar}")
    else:
        lines.append("No errors.")
    lines += ["", f"_Generated in {r['generationMs']} ms._", ""]
    return "\n".join(lines)


def write_report(report: dict[str, Any], directory: Path, keep: int = 48) -> Path:
    """Write <stamp>.json/.md and latest.json/.md atomically; keep the newest `keep` pairs."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = report["generatedAt"].replace(":", "").replace("-", "")
    body, md = json.dumps(report, indent=2), to_markdown(report)
    for name, text in ((f"health-{stamp}.json", body), (f"health-{stamp}.md", md),
                       ("latest.json", body), ("latest.md", md)):
        tmp = directory / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, directory / name)
    for pattern in ("health-*.json", "health-*.md"):
        for old in sorted(directory.glob(pattern))[:-keep]:
            old.unlink(missing_ok=True)
    return directory / f"health-{stamp}.json"


def read_latest(directory: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((directory / "latest.json").read_text())
    except (OSError, ValueError):
        return None
    return data
