"""Command line: run, check, validate, schema, status, alert test."""

from __future__ import annotations

import argparse
import faulthandler
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from supervisor import __version__

if TYPE_CHECKING:
    import asyncio

    from supervisor.config.settings import Settings

# Commands import what they need: `status` and the other remote commands never build the
# config models (every plugin's pydantic models), and `validate` never loads aiohttp.

EXIT = {"healthy": 0, "degraded": 1, "critical": 2}


def _settings(args: argparse.Namespace) -> Settings:
    from pydantic import ValidationError

    from supervisor.config.settings import Settings

    overrides: dict[str, Any] = {}
    for name in ("config", "host", "port", "data_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        for e in exc.errors():
            print(f"setting {'.'.join(map(str, e['loc']))}: {e['msg']}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio

    from supervisor.api.app import create_app
    from supervisor.config.safety import UnsafeSetup
    from supervisor.config.services import ConfigError
    from supervisor.daemon import Daemon
    from supervisor.observability.log import setup_logging

    # A watchdog kill (SIGABRT), a segfault or a deadlock then leaves every thread's Python
    # stack on stderr, which is the journal under systemd.
    faulthandler.enable()
    settings = _settings(args)
    try:
        setup_logging(settings.error_log_level, settings.log_format, settings.log_levels,
                      settings.log_file, settings.log_rotation, settings.log_retention)
    except ValueError as exc:
        print(f"soulfra-supervisor: refusing to start: {exc}", file=sys.stderr)
        return 1
    try:
        factory = _loop_factory(settings.event_loop)
        daemon = Daemon(settings, api=create_app)
    except (ConfigError, UnsafeSetup, ImportError) as exc:
        print(f"soulfra-supervisor: refusing to start: {exc}", file=sys.stderr)
        return 1
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(daemon.run())
    return 0


def _loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop when asked or (auto) when installed; asyncio's own loop otherwise."""
    import asyncio

    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ImportError("SOULFRA_EVENT_LOOP=uvloop, but uvloop is not installed") from None
        return asyncio.new_event_loop
    return uvloop.new_event_loop


def cmd_validate(args: argparse.Namespace) -> int:
    from supervisor.config.loader import load_config
    from supervisor.config.services import ConfigError
    from supervisor.config.settings import Settings

    path = args.file or str(Settings().config)
    try:
        cfg = load_config(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    n = len(cfg.error_monitoring.services)
    print(f"{path}: valid ({n} service{'s' if n != 1 else ''})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from supervisor.config.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    import asyncio

    from health_checks.base import CheckEnv
    from supervisor.config.loader import load_config
    from supervisor.config.services import ConfigError
    from supervisor.core.events import EventBus
    from supervisor.core.platform_health import overall_status
    from supervisor.core.state import StateTracker, Thresholds
    from supervisor.daemon import build_checks

    settings = _settings(args)
    try:
        cfg = load_config(settings.config, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    async def run_all() -> tuple[list[tuple[str, Any]], str]:
        tracker = StateTracker(EventBus())
        env = CheckEnv()
        rows = []
        try:
            for name, svc in cfg.error_monitoring.services.items():
                if not svc.enabled:
                    continue
                tracker.add(name, Thresholds(1, 1), svc.critical)
                checks = build_checks(name, svc, env)
                try:
                    results = await asyncio.gather(*(c.run() for c in checks))
                finally:
                    for check in checks:  # kept connections (redis, mqtt) close cleanly
                        await check.close()
                tracker.record(name, list(results))
                rows += [(name, r) for r in results]
        finally:
            await env.close()
        return rows, overall_status(list(tracker.services.values()))

    rows, status = asyncio.run(run_all())
    print(f"{'SERVICE':<24} {'CHECK':<16} {'RESULT':<18} {'MS':>7}  MESSAGE")
    for name, r in rows:
        print(f"{name:<24} {r.check:<16} {r.kind!s:<18} {r.latency_ms:>7.0f}  {r.message}")
    print(f"overall: {status}")
    return EXIT[status]


def cmd_remote(args: argparse.Namespace) -> int:
    """status, watch, recover, errors: ask the running daemon (supervisor/remote.py)."""
    from supervisor.cli import remote

    return remote.run_command(args, _settings(args))


def cmd_alert_test(args: argparse.Namespace) -> int:
    """Send a test message to each channel (or one) and print what the platform answered."""
    import asyncio

    from supervisor.alerts.message import Alert
    from supervisor.alerts.service import build_channels
    from supervisor.clients.http import HttpClient
    from supervisor.config.loader import load_config
    from supervisor.config.services import ConfigError

    settings = _settings(args)
    try:
        cfg = load_config(settings.config, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    http = HttpClient()
    channels = build_channels(cfg.error_monitoring.alerts, settings, http)
    if args.channel:
        if args.channel not in channels:
            print(f"no alert channel {args.channel!r}; configured: "
                  f"{', '.join(channels) or 'none'}", file=sys.stderr)
            return 2
        channels = {args.channel: channels[args.channel]}
    if not channels:
        print("no alert channel configured (errorMonitoring.alerts.channels or "
              "ERROR_WEBHOOK_URL)", file=sys.stderr)
        return 2

    async def send_all() -> list[tuple[str, Any]]:
        out = []
        try:
            for name, ch in channels.items():
                alert = Alert(kind="test", service="soulfra-supervisor", severity="info",
                              summary=f"test message for channel {name}",
                              detail="If you can read this, alerts reach this channel.")
                out.append((name, await ch.send([alert])))
        finally:
            await http.close()
        return out

    failed = 0
    for name, answer in asyncio.run(send_all()):
        ch = channels[name]
        print(f"{name} ({ch.type_name}): {answer.describe()}  [{answer.latency_ms:.0f} ms]")
        if answer.body.strip():
            print(f"  answer: {answer.body.strip()[:300]}")
        failed += not answer.ok
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="soulfra-supervisor",
                                description="A self-healing supervisor daemon.")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)

    def with_settings(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--config", type=Path, help="services.json (env SOULFRA_CONFIG)")
        sp.add_argument("--host", help="API address (env SOULFRA_HOST, default 127.0.0.1)")
        sp.add_argument("--port", type=int, help="API port (env SOULFRA_PORT, default 3001)")
        sp.add_argument("--data-dir", type=Path, help="where data is stored "
                                                      "(env SOULFRA_DATA_DIR, default ./data)")

    run = sub.add_parser("run", help="run the daemon")
    with_settings(run)
    run.set_defaults(fn=cmd_run)
    check = sub.add_parser("check", help="run every check once; exit 0 healthy, 1 degraded, "
                                         "2 critical")
    with_settings(check)
    check.set_defaults(fn=cmd_check)
    val = sub.add_parser("validate", help="validate a services.json; exit 1 if invalid")
    val.add_argument("file", nargs="?")
    val.set_defaults(fn=cmd_validate)
    sch = sub.add_parser("schema", help="print the JSON Schema of services.json")
    sch.set_defaults(fn=cmd_schema)
    from supervisor.cli.remote import add_parsers

    add_parsers(sub, with_settings, cmd_remote)
    from supervisor.cli.selftest import add_parser as add_selftest

    add_selftest(sub)
    alert = sub.add_parser("alert", help="alert channels")
    alert_sub = alert.add_subparsers(dest="alert_command", required=True)
    at = alert_sub.add_parser("test", help="send a test message to every channel (or CHANNEL) "
                                           "and print the answer; exit 1 if one refused")
    with_settings(at)
    at.add_argument("channel", nargs="?", help="channel name (default: all)")
    at.set_defaults(fn=cmd_alert_test)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args))


if __name__ == "__main__":
    raise SystemExit(main())
