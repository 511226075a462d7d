"""GET /status: the public status page (SPEC §5), server-rendered HTML for the rest of the
company. Only services marked `"public": true`; their state, 30 days of uptime bars and the
incidents with the notes people wrote (POST /api/monitoring/incidents/{id}/updates). No check
messages, no error details, no controls, no token: what a service's check said can quote
internal URLs, a person's note is written to be read. Complete without JavaScript; a small
script (dashboard/status.js) only reloads the page's content when the event stream says a
public service changed (no meta refresh: a page that reloads itself on a timer fails
WCAG 2.2.1, and axe-core says so). Not to be confused with /api/monitoring/status (the
daemon's own).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from html import escape
from typing import Any

from aiohttp import web

from supervisor.alerts.message import human_ms
from supervisor.api.context import DAEMON
from supervisor.observability.service_series import ServiceSeries, Window
from supervisor.store import incident_timeline

routes = web.RouteTableDef()
DAY = 86400.0
RENDER_EVERY_S = 5.0  # a page many people reload is built once per this, not per request
BAR_DAYS = 30
INCIDENT_DAYS = 14
CACHE = {"Cache-Control": "public, max-age=30", "X-Content-Type-Options": "nosniff",
         "Content-Security-Policy": "default-src 'self'; connect-src 'self'"}
WORDS = {"healthy": "Operational", "degraded": "Degraded performance", "failing": "Outage",
         "recovering": "Outage", "gave_up": "Outage", "maintenance": "Maintenance",
         "unknown": "No data yet"}
LEVEL = {"healthy": "up", "degraded": "degraded", "failing": "down", "recovering": "down",
         "gave_up": "down", "maintenance": "maintenance", "unknown": "unknown"}


@lru_cache(maxsize=64)  # the same 30 days for every service
def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%b %d")


def _when(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def overall(states: list[str]) -> tuple[str, str]:
    levels = {LEVEL.get(s, "unknown") for s in states}
    if "down" in levels:
        return "down", "Some services are having an outage"
    if "degraded" in levels:
        return "degraded", "Some services are slower than usual"
    if "maintenance" in levels:
        return "maintenance", "Planned maintenance in progress"
    return "up", "All systems operational"


def bars(points: list[dict[str, Any]]) -> str:
    down_days = sum(1 for p in points if p["state"] == "down")
    cells = []
    for p in points:
        pct = "no data" if p["uptime"] is None else f"{p['uptime']:.2f}% up"
        extra = ", maintenance" if p["maintenanceS"] else ""
        cells.append(f'<span class="bar {p["state"]}" title="{_day(p["start"])}: {pct}{extra}">'
                     "</span>")
    label = (f"uptime per day over the last {len(points)} days: "
             f"{down_days} day{'s' if down_days != 1 else ''} with an outage")
    return (f'<div class="bars" role="img" aria-label="{escape(label)}">'
            + "".join(cells) + "</div>")


def service_block(name: str, description: str, state: str, uptime: dict[str, Any]) -> str:
    pct = uptime.get("uptime")
    pct_text = "no data yet" if pct is None else f"{pct:.2f}% uptime"
    return (f'<li class="service" data-service="{escape(name)}">'
            f'<div class="row"><h3>{escape(name)}</h3>'
            f'<span class="state {LEVEL.get(state, "unknown")}">{WORDS.get(state, state)}'
            "</span></div>"
            + (f'<p class="muted">{escape(description)}</p>' if description else "")
            + bars(uptime.get("points", []))
            + f'<div class="legend"><span>{BAR_DAYS} days ago</span>'
            f"<span>{pct_text}</span><span>today</span></div></li>")


def incident_block(inc: dict[str, Any]) -> str:
    status = "Resolved" if inc["status"] == "resolved" else "Ongoing"
    took = (f" after {human_ms(inc['repairMs'])}" if inc["status"] == "resolved"
            and inc.get("repairMs") is not None else "")
    notes = "".join(
        f'<li><strong>{escape(u["status"].capitalize())}</strong> '
        f'<time>{_when(u["at"])}</time><p>{escape(u["message"])}</p></li>'
        for u in reversed(inc["updates"]))
    return (f'<li class="incident {inc["status"]}" data-incident="{escape(inc["id"])}">'
            f'<h3>{escape(inc["service"])}: outage</h3>'
            f"<p class=\"muted\">{status}{took} · started "
            f"<time>{_when(inc['startedAt'])}</time></p>"
            + (f'<ul class="notes">{notes}</ul>' if notes else "") + "</li>")


def render(services: list[tuple[str, str, str, dict[str, Any]]],
           incidents: list[dict[str, Any]], now: float) -> str:
    level, headline = overall([s[2] for s in services])
    open_ = [i for i in incidents if i["status"] == "open"]
    past = [i for i in incidents if i["status"] != "open"]
    body = (f'<section class="overall {level}" aria-live="polite"><h2>{headline}</h2>'
            f'<p>Updated <time>{_when(round(now * 1000))}</time></p></section>')
    if open_:
        body += ('<section><h2>Ongoing incidents</h2><ul class="incidents">'
                 + "".join(incident_block(i) for i in open_) + "</ul></section>")
    body += ('<section><h2>Services</h2>'
             + ('<ul class="services">' + "".join(service_block(*s) for s in services)
                + "</ul>" if services else '<p class="muted">No public services.</p>')
             + "</section>")
    body += (f'<section><h2>Past incidents ({INCIDENT_DAYS} days)</h2>'
             + ('<ul class="incidents">' + "".join(incident_block(i) for i in past) + "</ul>"
                if past else '<p class="muted">No incidents.</p>') + "</section>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Status</title>"
            '<link rel="stylesheet" href="/dashboard/status.css">'
            '<script src="/dashboard/status.js" defer></script></head>'
            f'<body><header><h1>Status</h1></header><main id="status">{body}</main>'
            '<footer class="muted">Times in UTC. With JavaScript this page follows changes '
            "by itself; without, reload it.</footer>"
            "</body></html>\n")


@dataclass
class Rendered:
    html: str = ""
    at: float = 0.0
    states: tuple[str, ...] = ()

    def invalidate(self) -> None:
        self.at = 0.0


RENDERED: web.AppKey[Rendered] = web.AppKey("status_page")


def setup(app: web.Application) -> None:
    app[RENDERED] = Rendered()


@routes.get("/status")
async def status_page(request: web.Request) -> web.Response:
    cached = request.app[RENDERED]
    # a state change shows at once; otherwise the page is rebuilt every RENDER_EVERY_S
    states = tuple(str(s.state) for s in request.app[DAEMON].tracker.services.values())
    if time.monotonic() - cached.at > RENDER_EVERY_S or states != cached.states:
        cached.html = await build(request.app)
        cached.at, cached.states = time.monotonic(), states
    return web.Response(text=cached.html, content_type="text/html", headers=CACHE)


async def build(app: web.Application) -> str:
    daemon = app[DAEMON]
    public = {n: s for n, s in daemon.services.items()
              if s.public and s.enabled and n in daemon.tracker.services}
    names = sorted(public)
    now = time.time()
    uptime: dict[str, dict[str, Any]] = {}
    incidents: list[dict[str, Any]] = []
    if names:
        series = ServiceSeries(daemon.store, daemon.rollup)
        uptime = await series.uptime(names, Window(now - (BAR_DAYS - 1) * DAY, now, DAY))
        incidents = await daemon.store.run(lambda conn: incident_timeline.recent(
            conn, now - INCIDENT_DAYS * DAY, names, 50))
    rows = [(n, public[n].description, str(daemon.tracker.services[n].state),
             uptime.get(n, {})) for n in names]
    return render(rows, incidents, now)
