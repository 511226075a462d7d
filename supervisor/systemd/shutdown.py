"""Graceful shutdown on SIGTERM/SIGINT, within a bound.

Order matters: first nothing new may start (no API requests, no scheduled checks, no automatic
recovery), then recoveries in flight get a grace period to reach their end, the rest is
cancelled and recorded as `interrupted`, and last everything queued is written: events to
the store and the alert outbox (which keeps what is undelivered for the next start), then
the shutdown hooks, then the store is closed. Each step has a deadline,
so a hung step costs its share of the bound and the daemon still exits 0 in time (systemd's
TimeoutStopSec is longer than the whole bound).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from loguru import logger

if TYPE_CHECKING:
    from supervisor.alerts.service import AlertService
    from supervisor.clients.http import HttpClient
    from supervisor.config.reload import ConfigReloader
    from supervisor.core.events import EventBus
    from supervisor.core.scheduler import Scheduler
    from supervisor.observability.housekeeping import Monitoring
    from supervisor.observability.metrics import Metrics
    from supervisor.push.hub import PushHub
    from supervisor.recovery.manager import RecoveryManager
    from supervisor.store.database import Store
    from supervisor.systemd.notify import Notifier
    from supervisor.systemd.watchdog import Watchdog

ShutdownHook = Callable[[], Awaitable[None]]


class Stoppable(Protocol):
    """The parts of the daemon that shutdown stops, in the order below."""

    recovery: RecoveryManager
    notifier: Notifier
    resumed_checks: list[asyncio.Task[None]]
    reloader: ConfigReloader
    scheduler: Scheduler
    push: PushHub
    watchdog: Watchdog
    metrics: Metrics
    bus: EventBus
    monitoring: Monitoring
    alerts: AlertService
    store: Store
    shutdown_hooks: list[tuple[str, ShutdownHook]]
    http: HttpClient

    async def stop_api(self) -> None: ...

    async def stop_processes(self) -> None: ...


# Steps that write what is queued always get at least this long, even past the bound.
FLUSH_MIN_S = 2.0


async def graceful_shutdown(daemon: Stoppable, bound_s: float, hurry: asyncio.Event) -> None:
    started = time.monotonic()
    deadline = started + bound_s
    # Most of the bound goes to recoveries in flight; the rest is kept for flushing.
    recovery_deadline = started + bound_s * 0.6

    async def step(name: str, coro: Awaitable[None], until: float | None = None,
                   floor: float = 0.5) -> None:
        left = max((until or deadline) - time.monotonic(), floor)
        try:
            await asyncio.wait_for(coro, left)
        except TimeoutError:
            logger.error("shutdown: {} did not finish within {:.1f} s; going on", name, left)
        except Exception:
            logger.exception("shutdown: {} failed; going on", name)

    d = daemon
    active = len(d.recovery.active)
    logger.info("shutting down (bound {:.0f} s; {} recover{} in flight)", bound_s, active,
                "y" if active == 1 else "ies")
    d.notifier.stopping(f"stopping; {active} recoveries in flight" if active else "stopping")
    d.recovery.auto_enabled = False  # a check during the grace must not start another
    for task in d.resumed_checks:
        task.cancel()
    await step("stop the config watcher", d.reloader.stop())
    await step("stop the API", d.stop_api())
    await step("stop scheduling", d.scheduler.pause())
    await step("stop push listeners", d.push.stop())
    await step("let recoveries finish", _recoveries_done(d, hurry), until=recovery_deadline)
    left = [f"{run.service} ({run.id})" for run in d.recovery.active.values()]
    if left:
        logger.warning("shutdown: interrupting {} recover{}: {}", len(left),
                       "y" if len(left) == 1 else "ies", ", ".join(left))
    await step("interrupt recoveries", d.recovery.stop())
    await step("stop checks", d.scheduler.stop())
    await step("stop processes marked stopOnExit", d.stop_processes())
    await step("stop the watchdog", d.watchdog.stop())
    await step("stop metrics", d.metrics.stop())
    # Every queued event reaches its subscriber: errors to the store, alerts to the outbox.
    await step("write queued events", d.bus.drain(timeout=max(deadline - time.monotonic(),
                                                                 FLUSH_MIN_S)),
               floor=FLUSH_MIN_S)
    await step("stop housekeeping", d.monitoring.stop())
    # Deliveries stop; what is not delivered stays in the outbox (in the store) for next start.
    await step("stop alert delivery", d.alerts.stop())
    for name, hook in d.shutdown_hooks:
        await step(name, hook(), floor=FLUSH_MIN_S)
    await step("close the store", d.store.close(), floor=FLUSH_MIN_S)
    await step("close HTTP sessions", d.http.close())
    d.notifier.close()
    logger.info("stopped in {:.1f} s", time.monotonic() - started)


async def _recoveries_done(daemon: Stoppable, hurry: asyncio.Event) -> None:
    """Wait until no recovery is in flight (each ends at a safe point), or until hurried."""
    # polls the in-flight set (hurry ends it early); no single event marks 'none in flight'
    while daemon.recovery.active and not hurry.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
