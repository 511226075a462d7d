"""CLI commands that ask a running daemon over its API: status, watch, recover, errors.

Blocking HTTP (urllib) is fine here: these run in the operator's terminal, not in the daemon.
Exit codes: status 0 healthy, 1 degraded, 2 critical, 3 daemon unreachable; recover 0 when the
recovery succeeded (or the dry run was planned), 1 when it did not, 3 unreachable.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from supervisor.cli.render import ago, escape, state_markup
from supervisor.cli.sse_client import ServerEvent, follow

if TYPE_CHECKING:
    from rich.console import Console



EXIT = {"healthy": 0, "degraded": 1, "critical": 2}
UNREACHABLE = 3
DOWN = ("failing", "recovering", "gave_up")
OVERALL_STYLE = {"healthy": "green", "degraded": "yellow", "critical": "bold red"}


class Unreachable(Exception):
    pass


class Api:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Accept": "application/json", "X-Requested-By": "cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, payload = resp.status, resp.read()
        except urllib.error.HTTPError as exc:  # 4xx/5xx still carry a JSON body
            status, payload = exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"daemon not reachable at {self.url}: {exc}") from None
        try:
            return status, json.loads(payload) if payload else None
        except ValueError:
            return status, {"error": payload.decode(errors="replace")[:200]}

    def get(self, path: str) -> tuple[int, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> tuple[int, Any]:
        return self.request("POST", path, body)


def _clock(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).strftime("%H:%M:%S")


BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], failed: list[bool] | None = None) -> str:
    """Latency per bucket as block characters, scaled to the row's own peak; a bucket without
    an answer is a dot, one with failed checks is red."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    out = []
    for i, v in enumerate(values):
        ch = "·" if v is None else BLOCKS[min(len(BLOCKS) - 1,
                                                int(v / top * (len(BLOCKS) - 1)))]
        out.append(f"[red]{'▁' if v is None else ch}[/]" if failed and failed[i] else ch)
    return "".join(out)


# -- status ---------------------------------------------------------------------------------
def status(api: Api, console: Console) -> int:
    _, health = api.get("/api/monitoring/health")
    _, services = api.get("/api/monitoring/services")
    _, errors = api.get("/api/monitoring/errors?since=24h&limit=1000")
    # One request each for every service's latency and uptime (not one per service); an
    # older daemon without /series answers 404 and the columns stay empty.
    _, latency = api.get("/api/monitoring/series?metric=latency&since=15m&bucket=1m")
    _, uptime = api.get("/api/monitoring/series?metric=uptime&since=24h")
    lat_by = (latency or {}).get("services", {})
    up_by = (uptime or {}).get("services", {})
    last_error: dict[str, dict[str, Any]] = {}
    for e in (errors or {}).get("errors", []):  # newest first
        last_error.setdefault(e["service"], e)
    from rich.table import Table

    table = Table(title=None, header_style="bold", expand=False)
    for column in ("SERVICE", "STATE", "LATENCY", "LAST 15 MIN", "UP 24h", "SINCE",
                   "LAST ERROR (24h)"):
        table.add_column(column, no_wrap=column != "LAST ERROR (24h)",
                         justify="right" if column in ("LATENCY", "UP 24h") else "left")
    for name, s in sorted(services.get("services", {}).items()):
        rt = s.get("responseTime")
        err = last_error.get(name)
        err_text = ""
        if err:
            outcome = "recovered" if err["recovered"] else err.get("status", "pending")
            err_text = (f"{escape(err['message'])} [dim]({err['category']}, "
                        f"{ago(err['timestamp'] / 1000)}, {outcome})[/]")
        failure = s.get("lastFailure") or {}
        if s["status"] in DOWN and failure.get("message"):  # why it is down, then the record
            err_text = f"[bold]{escape(failure['message'])}[/]" + (
                f"\n{err_text}" if err_text else "")
        points = lat_by.get(name, {}).get("points", [])
        up = up_by.get(name, {}).get("uptime")
        table.add_row(escape(name), state_markup(s["status"]), "" if rt is None else f"{rt} ms",
                      sparkline([p.get("avg") for p in points],
                                [bool(p.get("failed")) for p in points]),
                      "" if up is None else f"{up:.2f}%", ago(s.get("since")), err_text)
    console.print(table)
    overall = health["status"]
    console.print(f"overall: [{OVERALL_STYLE.get(overall, '')}]{overall}[/]  "
                  f"uptime: {health['uptime']}  recent errors: {health['recentErrors']}  "
                  f"auto recoveries: {health['autoRecoveries']}")
    return EXIT.get(overall, 2)


# -- errors ---------------------------------------------------------------------------------
def errors(api: Api, console: Console, since: str, service: str | None, limit: int) -> int:
    query = f"?since={quote(since)}&limit={limit}"
    if service:
        query += f"&service={quote(service)}"
    code, body = api.get("/api/monitoring/errors" + query)
    if code != 200:
        console.print(f"[red]{escape(body.get('error', f'HTTP {code}'))}[/]")
        return 1
    from rich.table import Table

    table = Table(header_style="bold")
    for column in ("TIME", "ID", "SEVERITY", "CATEGORY", "SERVICE", "MESSAGE", "OUTCOME"):
        table.add_column(column, no_wrap=column != "MESSAGE")
    for e in body["errors"]:
        if e["recovered"]:
            rt = e.get("recoveryTime")
            outcome = "[green]recovered[/]" + (f" in {rt / 1000:.1f}s" if rt else "")
        else:
            outcome = f"[red]{escape(e.get('status') or 'pending')}[/]"
        sev = e["severity"]
        style = "bold red" if sev in ("critical", "high") else ""
        table.add_row(_clock(e["timestamp"] / 1000), e["id"], f"[{style}]{sev}[/]",
                      e["category"], escape(e["service"]), escape(e["message"]), outcome)
    console.print(table)
    s = body["summary"]
    console.print(f"since {since}: {s['total']} error(s), {s['recovered']} recovered, "
                  f"{s['pending']} pending, {s['failed']} failed")
    return 0


# -- dsn ------------------------------------------------------------------------------------
def dsn(api: Api, console: Console, service: str, rotate: bool) -> int:
    """The DSN alone on stdout, so that `SENTRY_DSN=$(soulfra-supervisor dsn api)` works."""
    path = f"/api/monitoring/services/{quote(service, safe='')}/dsn"
    code, body = api.post(path + "/rotate", {}) if rotate else api.get(path)
    if code != 200:  # on stderr: stdout holds the DSN alone, or nothing
        sys.stderr.write(f"{body.get('error', code) if isinstance(body, dict) else code}\n")
        return 1
    console.print(body["dsn"], soft_wrap=True, markup=False)
    return 0


# -- recover --------------------------------------------------------------------------------
def recover(api: Api, console: Console, service: str, action: str, force: bool,
            dry_run: bool, wait: bool, wait_timeout: float) -> int:
    code, body = api.post("/api/monitoring/recover", {"action": action, "target": service,
                                                      "force": force, "dryRun": dry_run})
    if code not in (200, 202):
        console.print(f"[red]refused ({code}): {escape(body.get('error', ''))}[/]")
        for p in body.get("problems", []):
            console.print(f"  {escape(p['field'])}: {escape(p['message'])}")
        return 1
    if dry_run:
        console.print(f"dry run for [bold]{escape(service)}[/] ({action}): nothing was done. "
                      "The plan:")
        for i, step in enumerate(body.get("plan", []), 1):
            console.print(f"  {i}. [bold]{escape(step['strategy'])}[/] "
                          f"({step['attempts']} attempts): {escape(step['does'])}")
        return 0
    rid = body["id"]
    joined = " (already running)" if body.get("alreadyRunning") else ""
    console.print(f"recovery {rid} of {escape(service)}{joined}: {body['status']}")
    if not wait:
        return 0
    deadline = time.monotonic() + wait_timeout
    shown = 0
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
        _, body = api.get(f"/api/monitoring/recoveries/{rid}")
        for a in body.get("attempts", [])[shown:]:
            mark = "[green]ok[/]" if a.get("ok") else "[red]failed[/]"
            console.print(f"  {escape(a['strategy'])} attempt {a['attempt']}: {mark} "
                          f"{escape(a.get('message', ''))}")
        shown = len(body.get("attempts", []))
    final = body["status"]
    style = "green" if final == "succeeded" else "red"
    console.print(f"recovery {rid}: [{style}]{final}[/] {escape(body.get('message', ''))}")
    return 0 if final == "succeeded" else 1


# -- ack ------------------------------------------------------------------------------------
def ack(api: Api, console: Console, incident: str, by: str, comment: str) -> int:
    code, body = api.post(f"/api/monitoring/incidents/{quote(incident)}/ack",
                          {"by": by, "comment": comment, "via": "cli"})
    if code != 200:
        console.print(f"[red]refused ({code}): {escape(str(body.get('error', body)))}[/]")
        return 1
    when = _clock(body["at"] / 1000)
    if body.get("alreadyAcknowledged"):
        console.print(f"incident {escape(incident)} was already acknowledged by "
                      f"{escape(body['by'])} ({body['via']}) at {when}")
    else:
        console.print(f"incident {escape(incident)} of {escape(body['service'])} acknowledged by "
                      f"{escape(body['by'])} at {when}: reminders and escalation stop")
    return 0


# -- watch ----------------------------------------------------------------------------------
def describe(ev: ServerEvent) -> tuple[str, str, str]:
    """(type, service, one line) for an event of the stream."""
    body = ev.json()
    d: dict[str, Any] = body.get("data") or {}
    t = ev.event
    if t == "state_changed":
        line = f"{state_markup(d.get('previous', '?'))} → {state_markup(d.get('state', '?'))}"
        if d.get("reason"):
            line += f": {escape(str(d['reason']))}"
    elif t == "error_recorded":
        e = d.get("error") or {}
        line = (f"[{e.get('category')}/{e.get('severity')}] {escape(str(e.get('message')))} "
                f"({e.get('id')})")
    elif t == "recovery_started":
        line = f"{d.get('id')} {d.get('action')} requested by {d.get('requestedBy')}"
    elif t == "recovery_attempt":
        ok = "[green]ok[/]" if d.get("ok") else "[red]failed[/]"
        line = (f"{d.get('id')} {d.get('strategy')} attempt {d.get('attempt')}: {ok} "
                f"{escape(str(d.get('message', '')))}")
    elif t == "recovery_finished":
        line = (f"{d.get('id')} {d.get('status')}: {escape(str(d.get('message', '')))} "
                f"({d.get('durationMs')} ms)")
    elif t == "recovery_skipped":
        line = f"{d.get('id')} skipped: {escape(str(d.get('reason')))}"
    elif t == "resync":
        line = escape(str(body.get("message", "")))
    else:
        line = escape(json.dumps(d, default=str)[:200])
    return t, body.get("service") or "", line


def watch(api: Api, console: Console, types: str | None, service: str | None,
          count: int | None, raw: bool, replay: bool) -> int:
    query = [f"types={quote(types)}"] if types else []
    if replay:
        query.append("lastEventId=0")
    url = api.url + "/api/monitoring/events" + ("?" + "&".join(query) if query else "")
    seen = 0

    def dropped(exc: Exception | None) -> None:
        why = f": {exc}" if exc else ""
        console.print(f"[yellow]stream disconnected{escape(why)}; reconnecting[/]")

    def connected() -> None:
        console.print(f"[dim]connected to {escape(url)} (Ctrl-C to stop)[/]")

    try:
        for ev in follow(url, on_disconnect=dropped, on_connect=connected):
            if ev.comment is not None:
                continue
            t, svc, line = describe(ev)
            if service and svc != service:
                continue
            if raw:
                print(ev.data, flush=True)
            else:
                at = ev.json().get("at") or time.time()
                console.print(f"{_clock(at)} [bold]{t:<18}[/] {escape(svc):<20} {line}",
                              highlight=False, soft_wrap=True)  # one line per event
            seen += 1
            if count is not None and seen >= count:
                return 0
    except KeyboardInterrupt:
        return 0
    return 0


# -- command line ---------------------------------------------------------------------------
def add_parsers(sub: Any, with_settings: Any, fn: Any) -> None:
    """The subcommands of `soulfra-supervisor` that talk to a running daemon."""
    def remote(name: str, help: str) -> Any:
        sp = sub.add_parser(name, help=help)
        with_settings(sp)
        sp.add_argument("--url", help="the daemon's API, e.g. http://127.0.0.1:3001 "
                                      "(default from --host/--port)")
        sp.add_argument("--token", help="API token for changes (env SOULFRA_API_TOKEN)")
        sp.set_defaults(fn=fn)
        return sp

    st = remote("status", "table of services, states, latency and last error; exit 0 "
                          "healthy, 1 degraded, 2 critical, 3 unreachable")
    st.add_argument("--cluster", action="store_true",
                    help="every node of the cluster and the shared services instead; exit 0 "
                         "when every node is alive, 1 when one is not")
    w = remote("watch", "follow the event stream in the terminal")
    w.add_argument("--types", help="comma-separated event types (default: all)")
    w.add_argument("--service", help="only events of this service")
    w.add_argument("--count", type=int, help="stop after this many events")
    w.add_argument("--json", action="store_true", help="print each event's raw JSON")
    w.add_argument("--replay", action="store_true",
                   help="start with the daemon's recent events (its ring buffer)")
    r = remote("recover", "recover a service now (or show the plan with --dry-run)")
    r.add_argument("service")
    # The daemon validates the action (and lists the allowed ones when it is wrong).
    r.add_argument("--action", default="restart_service",
                   help="restart_service (default), retry_failed, reconnect_redis, run_ladder")
    r.add_argument("--force", action="store_true",
                   help="even when given up on, without backoff")
    r.add_argument("--dry-run", action="store_true", help="show the plan; do nothing")
    r.add_argument("--no-wait", action="store_true", help="do not wait for the outcome")
    r.add_argument("--wait-timeout", type=float, default=300, help="seconds (default 300)")
    n = remote("dsn", "print a service's Sentry DSN (for sentry_sdk.init / Sentry.init)")
    n.add_argument("service")
    n.add_argument("--rotate", action="store_true",
                   help="replace the service's key; the old one is refused from now on")
    a = remote("ack", "acknowledge an incident: reminders and escalation stop")
    a.add_argument("incident", help="the incident id (the correlationId of its alerts)")
    a.add_argument("--by", default=getpass.getuser(), help="who is on it (default: you)")
    a.add_argument("--comment", default="")
    e = remote("errors", "list stored errors")
    e.add_argument("--since", default="1h", help="30s, 15m, 1h, 7d or ISO-8601 (default 1h)")
    e.add_argument("--service", help="only this service")
    e.add_argument("--limit", type=int, default=100)


def run_command(args: Any, settings: Any) -> int:
    url = args.url or f"http://{settings.host}:{settings.port}"
    token = args.token or (settings.api_token.get_secret_value() if settings.api_token
                           else None)
    from rich.console import Console

    api = Api(url, token)
    console = Console(highlight=False)
    try:
        if args.command == "status" and args.cluster:
            from supervisor.cli.cluster import cluster_table

            return cluster_table(*api.get("/api/monitoring/cluster"), console)
        if args.command == "status":
            return status(api, console)
        if args.command == "errors":
            return errors(api, console, args.since, args.service, args.limit)
        if args.command == "recover":
            return recover(api, console, args.service, args.action, args.force, args.dry_run,
                           not args.no_wait, args.wait_timeout)
        if args.command == "dsn":
            return dsn(api, console, args.service, args.rotate)
        if args.command == "ack":
            return ack(api, console, args.incident, args.by, args.comment)
        if args.command == "watch":
            return watch(api, console, args.types, args.service, args.count, args.json,
                         args.replay)
    except Unreachable as exc:
        Console(stderr=True).print(f"[red]{escape(str(exc))}[/]")
        return UNREACHABLE
    raise SystemExit(f"unknown command {args.command}")
