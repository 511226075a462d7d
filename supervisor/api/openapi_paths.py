"""The table of every route in the OpenAPI document (openapi.py serves it).

Adding an endpoint? Add one entry to PATHS (tests/unit/supervisor/api/test_openapi.py fails,
and prints the entry to paste, when a route of the app is missing here or an entry names no
route). Path parameters (`{name}`) are filled in from the path; give query parameters, a
request body (a pydantic model or a JSON schema) and the answers with their status codes.
"""

from __future__ import annotations

from supervisor.alerts.silences import SilenceSpec
from supervisor.api.openapi_ops import (
    BUCKET,
    ERROR_REPORT_SCHEMA,
    HEARTBEAT_BODY,
    JSON,
    SDK_ANSWERS,
    SDK_HEADERS,
    SINCE,
    Op,
    limit,
    one_of,
    op,
    some_of,
)
from supervisor.api.routes.acks import AckBody
from supervisor.api.routes.faults import Fault
from supervisor.api.routes.incidents import IncidentUpdate
from supervisor.api.routes.recover import RecoverRequest
from supervisor.api.routes.reload import ReloadRequest
from supervisor.api.routes.services import PauseRequest
from supervisor.core.taxonomy import Category, Level, Severity
from supervisor.store.errors import STATUSES

PATHS: dict[str, dict[str, Op]] = {
    "/api/{project_id}/envelope{slash}": {
        "post": op("Sentry SDK envelope (events; transactions, check-ins, sessions, client "
                   "reports and attachments are accepted and counted)", tag="sdk",
                   description="Authenticated by the service's DSN key, not the API token; "
                               "CORS for SOULFRA_INGEST_CORS_ORIGINS. "
                               "See docs/error-reporting.md.",
                   headers=SDK_HEADERS, responses=SDK_ANSWERS),
    },
    "/api/{project_id}/store{slash}": {
        "post": op("Sentry's older store endpoint: one event as JSON", tag="sdk",
                   headers=SDK_HEADERS, responses=SDK_ANSWERS),
    },
    "/api/monitoring/traces/{trace_id}": {
        "get": op("Every error and SDK transaction of one trace, across services, oldest "
                  "first", responses={200: "the trace", 404: "nothing known of it"}),
    },
    "/api/monitoring/services/{name}/dsn": {
        "get": op("The service's Sentry DSN, project id and keys",
                  responses={200: "the DSN", 404: "no such service"}),
    },
    "/api/monitoring/services/{name}/dsn/rotate": {
        "post": op("Replace the service's generated key; the old one is answered 403",
                   responses={200: "the new DSN", 401: "missing or wrong API token",
                              404: "no such service",
                              409: "its keys are set in services.json"}),
    },
    "/api/monitoring/health": {
        "get": op("Overall status, every service's state, recent errors and uptime "
                  "(SPEC shape)", responses={200: "healthy or degraded", 503: "critical"}),
    },
    "/api/monitoring/errors": {
        "post": op("Report an error (or a list of them) without an SDK, in the shape of "
                   "SPEC §6's report context; stored with source `api`",
                   description="One invalid report answers 422 naming `[index].field`, and "
                               "none is stored. See docs/error-reporting.md.",
                   body=ERROR_REPORT_SCHEMA,
                   responses={201: "accepted: ids, fingerprints and classification",
                              400: "body is not JSON", 401: "missing or wrong API token",
                              413: "more than 1000 reports", 422: "a field is invalid"}),
        "get": op("Stored errors with a summary (SPEC shape), filtered, newest first",
                  description="Cursor pagination: pass `nextCursor` back as `cursor`; rows "
                              "inserted meanwhile never repeat or skip a row. Filters take "
                              "comma-separated values. Every error names its `node`; with "
                              "SOULFRA_STORE_URL the list is the cluster's (`scope: cluster`), "
                              "else, or while PostgreSQL is unreachable, this node's (`scope: "
                              "local`, `degraded` says why). See docs/errors.md, docs/cluster.md.",
                  query={"since": ("30s, 15m, 1h, 7d or an ISO-8601 time (default 24h)", SINCE),
                         "until": ("a duration back from now or an ISO-8601 time", SINCE),
                         "service": "only these services",
                         "severity": ("critical,high,...", some_of(tuple(Severity))),
                         "category": ("taxonomy categories (NETWORK_TIMEOUT, ...)",
                                      some_of(tuple(Category))),
                         "level": ("system, service, data, user, external",
                                   some_of(tuple(Level))),
                         "status": ("pending, resolved, ignored, workaround",
                                    some_of(STATUSES)),
                         "type": "short types (service_timeout, ...)",
                         "fingerprint": "only this group", "correlationId": "one incident",
                         "node": "only these nodes (their SOULFRA_NODE_NAME)",
                         "cursor": "nextCursor of the previous page",
                         "limit": ("1-1000 (default 100)", limit(1000))},
                  responses={200: "errors, summary, nextCursor, scope, node and degraded",
                             422: "a query parameter is invalid"}),
    },
    "/api/monitoring/errors/{id}": {
        "get": op("One error with its full context (check result, environment, recoveries, "
                  "stack, resolution) and its group; with a shared store also another "
                  "node's (its group stays on that node)",
                  query={"node": "the node that stored it (default: this one, then any)"},
                  responses={200: "the error", 404: "no such error",
                             422: "a query parameter is invalid",
                             503: "not on this node, and the shared store is unreachable"}),
        "patch": op("Set an error's resolution status (and its group's)",
                    body={"type": "object", "required": ["status"], "properties": {
                        "status": {"enum": ["pending", "resolved", "ignored", "workaround"]},
                        "note": {"type": "string"}}},
                    headers={"X-Requested-By": "who resolved it (stored with the error)"},
                    responses={200: "the error", 401: "missing or wrong API token",
                               404: "no such error", 422: "a field is invalid"}),
    },
    "/api/monitoring/error-groups": {
        "get": op("Errors grouped by fingerprint: count, first/last seen, status, regression",
                  query={"status": ("pending, resolved, ignored, workaround",
                                    some_of(STATUSES)),
                         "category": ("taxonomy categories", some_of(tuple(Category))),
                         "service": "only this service",
                         "regressed": ("true or false", one_of(["true", "false"])),
                         "since": ("last seen since", SINCE),
                         "sort": ("last_seen (default), count or first_seen",
                                  one_of(["last_seen", "count", "first_seen"])),
                         "limit": ("1-1000 (default 100)", limit(1000))},
                  responses={200: "groups", 422: "a query parameter is invalid"}),
    },
    "/api/monitoring/error-groups/{fingerprint}": {
        "get": op("One group for its page: the group, its latest error with the full context "
                  "(stack trace, breadcrumbs, tags when reported), a 7-day trend, the services "
                  "and incidents it touched, its newest errors; for reported errors also its "
                  "releases and the other errors of the event's trace",
                  responses={200: "the group", 404: "no such group"}),
        "patch": op("Set a group's status; its pending errors follow",
                    body={"type": "object", "required": ["status"], "properties": {
                        "status": {"enum": ["pending", "resolved", "ignored", "workaround"]},
                        "note": {"type": "string"}}},
                    responses={200: "the group", 401: "missing or wrong API token",
                               404: "no such group", 422: "a field is invalid"}),
    },
    "/api/monitoring/services/{name}/series": {
        "get": op("Pre-bucketed history of one service for charts",
                  description="`latency`: min/avg/max response time of the checks that "
                              "answered, with checks, failed and degraded counts per bucket "
                              "and the service's `degradedThresholdMs`. `errors`: failed "
                              "checks, failure `rate` (%) and stored `errors` per bucket. "
                              "`uptime`: seconds per state per bucket (maintenance apart), "
                              "the worst `state` seen, each bucket's and the window's uptime. "
                              "Every bucket of the window is present, oldest first; empty "
                              "ones hold nulls. Minute rows are kept 48 h, hour rows as long "
                              "as the error summaries. See docs/dashboard.md.",
                  query={"metric": "latency (default), errors or uptime",
                         "since": "window back from now: 1h, 24h (default), 7d, up to 31d",
                         "bucket": "whole minutes (1m, 5m, 1h, 1d); default about 60-180 "
                                   "buckets for the window; at most 1500 buckets"},
                  responses={200: "points", 404: "unknown service",
                             422: "a query parameter is invalid"}),
    },
    "/api/monitoring/series": {
        "get": op("Latency points or uptime of every service (or `service=a,b`) at once",
                  query={"metric": "latency (default) or uptime",
                         "points": "uptime: true adds each service's buckets (default only "
                                   "the window's uptime)",
                         "since": "default 1h", "bucket": "as for one service",
                         "service": "only these services"},
                  responses={200: "points by service", 404: "unknown service",
                             422: "a query parameter is invalid"}),
    },
    "/api/monitoring/incidents": {
        "get": op("Incidents (one per correlation id) that started since, newest first",
                  query={"since": "default 7d", "service": "only these services",
                         "limit": "1-1000 (default 100)"},
                  responses={200: "incidents", 422: "a query parameter is invalid"}),
    },
    "/api/monitoring/incidents/{id}": {
        "get": op("One incident on one time axis: first failed check, declaration, recovery "
                  "attempts (what ran, output), alerts and deliveries per channel, updates, "
                  "recovery; downtimeMs (first failed check to up) and repairMs (declared to "
                  "up)", responses={200: "the incident", 404: "no such incident"}),
    },
    "/api/monitoring/incidents/{id}/updates": {
        "post": op("Add a human-written update to an incident (shown on /status)",
                   body=IncidentUpdate,
                   headers={"X-Requested-By": "who wrote it (shown as the author)"},
                   responses={201: "the update", 400: "body is not JSON",
                              401: "missing or wrong API token", 404: "no such incident",
                              422: "a field is invalid"}),
    },
    "/api/monitoring/status": {
        "get": op("The daemon's own status: uptime, memory, connections, requests, errors by "
                  "category, event-loop lag, store health (one section per contributor)"),
    },
    "/api/monitoring/cluster": {
        "get": op("Every node of the cluster (alive, last seen, version, API, services and "
                  "their states) and every shared service (its state on each node, who holds "
                  "its recovery lease and the fencing token)",
                  description="Any node answers for the cluster, from Redis; a node that is "
                              "not alive shows its last record with every service `unknown`. "
                              "Without SOULFRA_CLUSTER_REDIS_URL: `standalone: true` and "
                              "this daemon only. See docs/cluster.md."),
    },
    "/api/monitoring/performance": {
        "get": op("Slowest checks and recoveries; average and p95 durations by check type "
                  "and strategy; SDK transactions per service and slow queries",
                  query={"since": ("recoveries since (default 24h)", SINCE)},
                  responses={200: "timings", 422: "a query parameter is invalid"}),
    },
    "/api/monitoring/trends": {
        "get": op("Error counts per time bucket and category (from hourly summaries)",
                  query={"bucket": ("1h (default), 6h, 1d: whole hours", BUCKET),
                         "since": ("default 24h", SINCE), "until": ("default now", SINCE),
                         "service": "only this service"},
                  responses={200: "buckets", 422: "a query parameter is invalid"}),
    },
    "/api/monitoring/reports/latest": {
        "get": op("The latest health report (JSON; format=markdown for the Markdown one)",
                  content=(JSON, "text/markdown"),
                  query={"format": ("json (default) or markdown",
                                    one_of(["json", "markdown"]))},
                  responses={200: "the report", 404: "no report written yet"}),
    },
    "/api/monitoring/events/recent": {
        "get": op("The newest events from the in-memory ring buffer, newest first",
                  query={"limit": ("1-ring size (default 100)", limit(1000)),
                         "type": "event types",
                         "service": "only this service"},
                  responses={200: "events", 422: "a query parameter is invalid"}),
    },
    "/api/monitoring/recover": {
        "post": op("Start a recovery (or only plan it with dryRun)", body=RecoverRequest,
                   headers={"X-Requested-By": "who asked (stored with the recovery)"},
                   responses={202: "recovery started (or already running)",
                              200: "dry run: the plan, nothing done",
                              400: "body is not JSON", 401: "missing or wrong API token",
                              404: "unknown target", 409: "no step for that action",
                              422: "a field is invalid"}),
    },
    "/api/monitoring/reload": {
        "post": op("Re-read services.json now; only added, removed and changed services are "
                   "touched", body=ReloadRequest, body_required=False,
                   description="The body may be empty. A file that does not validate is "
                               "rejected (422, with the problems by field) and the last valid "
                               "configuration keeps running.",
                   responses={200: "applied (or, with dryRun, validated): the differences",
                              400: "body is not JSON", 401: "missing or wrong API token",
                              422: "services.json (or the body) is invalid; nothing changed"}),
        "get": op("The outcome of the last reload (SIGHUP, API or file change)"),
    },
    "/api/monitoring/recoveries/{id}": {
        "get": op("Progress and outcome of a recovery",
                  responses={200: "the recovery", 404: "no such recovery"}),
    },
    "/api/monitoring/services": {
        "get": op("Current state of every service"),
    },
    "/api/monitoring/services/{name}": {
        "get": op("One service: state, last results, thresholds, recent recoveries",
                  responses={200: "the service", 404: "unknown service"}),
    },
    "/api/monitoring/heartbeat/{service}": {
        "post": op("A service's sign of life (dead man's switch), with optional progress "
                   "counters", body=HEARTBEAT_BODY, body_required=False, tag="push",
                   responses={200: "recorded; the next deadline", 400: "body is not JSON",
                              401: "missing or wrong API token", 404: "unknown service",
                              422: "a counter is not a number"}),
    },
    "/api/monitoring/heartbeat/{service}/{event}": {
        "post": op("A long job's start, finish, or failure (event: start, finish, fail)",
                   body=HEARTBEAT_BODY, body_required=False, tag="push",
                   responses={200: "recorded", 400: "body is not JSON",
                              401: "missing or wrong API token", 404: "unknown service",
                              422: "a counter is not a number"}),
    },
    "/api/monitoring/services/{name}/pause": {
        "post": op("Pause a service for maintenance: no checks count, no recovery, not a "
                   "failure (optionally stop its process; optionally resume by itself)",
                   body=PauseRequest, body_required=False,
                   headers={"X-Requested-By": "who asked (stored with the action)"},
                   responses={200: "paused", 401: "missing or wrong API token",
                              404: "unknown service", 422: "a field is invalid"}),
    },
    "/api/monitoring/services/{name}/resume": {
        "post": op("End a pause: checks count again (a process stopped by the pause is "
                   "started)", headers={"X-Requested-By": "who asked"},
                   responses={200: "resumed", 401: "missing or wrong API token",
                              404: "unknown service", 409: "not paused"}),
    },
    "/api/monitoring/alerts": {
        "get": op("Alerts made (sent, queued, silenced, suppressed, failed) with their "
                  "deliveries; the outbox depth and each channel's last error",
                  tag="alerts",
                  query={"since": ("30s, 15m, 1h, 7d or an ISO-8601 time (default 24h)", SINCE),
                         "service": "only this service",
                         "limit": ("1-1000 (default 100)", limit(1000))},
                  responses={200: "alerts and channel state", 422: "invalid query"}),
    },
    "/api/monitoring/silences": {
        "post": op("Silence alerts matching service/severity/category (globs) until `end`",
                   tag="alerts", body=SilenceSpec,
                   responses={201: "the silence", 400: "body is not JSON",
                              401: "missing or wrong API token",
                              422: "a field is invalid (named in `problems`)"}),
        "get": op("Active and pending silences (config and API); ?all=1 adds expired ones",
                  tag="alerts", query={"all": ("1 to include expired and deleted silences",
                                              one_of(["1", "true", "yes", "0", "no"]))}),
    },
    "/api/monitoring/silences/{id}": {
        "delete": op("End a silence made through the API", tag="alerts",
                     responses={200: "deleted", 401: "missing or wrong API token",
                                404: "no active silence with that id",
                                409: "the silence comes from services.json"}),
    },
    "/api/monitoring/incidents/{id}/ack": {
        "post": op("Acknowledge an incident: reminders and escalation stop; recovered still "
                   "goes out", tag="alerts", body=AckBody,
                   description="With the API token, or with `?sig=` from a message's "
                               "acknowledgement link (signed, expiring, single use; then a "
                               "form post answered with an HTML page).",
                   query={"sig": "the signature of a message's acknowledgement link"},
                   responses={200: "who acknowledged it, when and how (`alreadyAcknowledged` "
                                   "when it was before)",
                              401: "missing or wrong API token", 403: "the link is not valid "
                              "or has expired", 404: "no such incident",
                              410: "the link was used already",
                              422: "a field is invalid (named in `problems`)"},
                   content=(JSON, "text/html"), html_errors=True),
        "get": op("Whether an incident is acknowledged (by whom, when, how) and its "
                  "escalation; with `?sig=` the link's confirmation page", tag="alerts",
                  query={"sig": "the signature of a message's acknowledgement link"},
                  responses={200: "the acknowledgement state", 403: "the link is not valid "
                             "or has expired"}, content=(JSON, "text/html"), html_errors=True),
    },
    "/api/monitoring/events": {
        "get": op("Server-sent events: state changes, errors, recoveries, alert deliveries",
                  description="Each event has `id: BOOT-N` and `event: <type>`; reconnect "
                              "with Last-Event-ID to resume. See docs/api.md.",
                  tag="live", content="text/event-stream",
                  query={"types": "comma-separated event types to receive; `*` for every "
                                  "bus event; check_result only when named",
                         "lastEventId": "resume after this id (like Last-Event-ID)",
                         "heartbeat": ("seconds between heartbeat comments (1-300, default 15)",
                                       limit(300, 15))},
                  headers={"Last-Event-ID": "resume after this event id"},
                  responses={200: "the stream", 422: "invalid Last-Event-ID or heartbeat",
                             503: "shutting down"}),
    },
    "/api/monitoring/history": {
        "get": op("Each service's latest check results (kind, latency), newest last",
                  tag="live", query={"limit": ("results per service, 1-60 (default 30)",
                                               limit(60, 30))},
                  responses={200: "results by service", 422: "invalid limit"}),
    },
    "/api/monitoring/debug/faults": {
        "post": op("Inject one of the daemon's own failures, to see it caught. Served only "
                   "when SOULFRA_FAULT_INJECTION=true", tag="debug", body=Fault,
                   responses={200: "injected", 401: "missing or wrong API token",
                              422: "a field is invalid"}),
    },
    "/api/monitoring/openapi.json": {
        "get": op("This document", tag="meta"),
    },
    "/metrics": {
        "get": op("Prometheus metrics", tag="live",
                  content="text/plain; version=0.0.4; charset=utf-8"),
    },
    "/": {
        "get": op("The dashboard", tag="dashboard", content="text/html"),
    },
    "/services/{name}": {
        "get": op("The dashboard's page of one service (charts)", tag="dashboard",
                  content="text/html"),
    },
    "/incidents/{id}": {
        "get": op("The dashboard's page of one incident (timeline)", tag="dashboard",
                  content="text/html"),
    },
    "/errors": {
        "get": op("The dashboard's list of error groups", tag="dashboard", content="text/html"),
    },
    "/errors/{fingerprint}": {
        "get": op("The dashboard's page of one error group", tag="dashboard",
                  content="text/html"),
    },
    "/status": {
        "get": op("The public status page: public services, uptime bars, incidents and their "
                  "updates; server-rendered HTML, no token, no controls, cached 30 s",
                  tag="dashboard", content="text/html"),
    },
    "/dashboard/{file}": {
        "get": op("The dashboard's script and style sheet", tag="dashboard",
                  content="text/javascript",
                  responses={200: "the file", 404: "no such file"}),
    },
}
