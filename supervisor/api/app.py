"""Builds the aiohttp application: its middlewares and every route module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from supervisor.api import openapi
from supervisor.api.context import DAEMON
from supervisor.api.csrf import refuse_cross_site
from supervisor.api.middlewares import json_errors, require_token
from supervisor.api.routes import (
    acks,
    alerts,
    cluster,
    dashboard,
    error_groups,
    error_reports,
    errors,
    faults,
    health,
    heartbeat,
    history,
    incidents,
    ingest,
    metrics,
    monitoring,
    recover,
    reload,
    series,
    services,
    silences,
    status_page,
    stream,
)

if TYPE_CHECKING:
    from supervisor.daemon import Daemon

MAX_BODY = 64 * 1024


def _signed_ack_link(request: web.Request) -> bool:
    """A message's acknowledgement link carries its own signature (the handler checks it)."""
    return "sig" in request.query and request.path.startswith("/api/monitoring/incidents/") \
        and request.path.endswith("/ack")


def create_app(daemon: Daemon) -> web.Application:
    app = web.Application(middlewares=[monitoring.count_requests, json_errors,
                                       refuse_cross_site, require_token],
                          client_max_size=MAX_BODY)
    app[DAEMON] = daemon
    for module in (health, error_reports, errors, recover, services, heartbeat, monitoring,
                   alerts, silences, acks, reload, ingest):
        app.add_routes(module.routes)
    for module in (series, incidents, error_groups, status_page, cluster):
        app.add_routes(module.routes)
    for module in (stream, history, metrics, openapi, dashboard):
        app.add_routes(module.routes)
    stream.setup(app, daemon)
    status_page.setup(app)
    history.setup(app, daemon)
    if daemon.settings.fault_injection:
        app.add_routes(faults.routes)
        app[faults.FAULT_TASKS] = set()
    return app
