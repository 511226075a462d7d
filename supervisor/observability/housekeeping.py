"""Wires the error-reporting parts into the daemon: the status board's core contributors,
the self-watch, check timings, and the cron-like housekeeping (retention, health reports)
run by APScheduler."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from loguru import logger

from supervisor.core.scheduler import add_check_hook
from supervisor.observability.check_rollup import CheckRollup
from supervisor.observability.overhead import OverheadBudget
from supervisor.observability.performance import CheckStats
from supervisor.observability.reports import build_report, read_latest, write_report
from supervisor.observability.selfwatch import SelfWatch
from supervisor.observability.status import RequestStats, StatusBoard, process_status

if TYPE_CHECKING:
    from supervisor.config.settings import Settings
    from supervisor.core.events import EventBus
    from supervisor.core.scheduler import Scheduler
    from supervisor.core.state import StateTracker
    from supervisor.store.database import Store

DAY = 86400.0


class MonitoredDaemon(Protocol):
    """What housekeeping reads of the daemon."""

    settings: Settings
    store: Store
    bus: EventBus
    scheduler: Scheduler
    tracker: StateTracker
    status: StatusBoard
    started_at: float
    api_url: str
    rollup: CheckRollup


class Monitoring:
    def __init__(self, daemon: MonitoredDaemon) -> None:
        self.daemon = daemon
        s = daemon.settings
        self.requests = RequestStats()
        self.checks = CheckStats()
        self.selfwatch = SelfWatch(daemon.store, daemon.bus,
                                   lag_threshold_s=s.loop_lag_threshold_ms / 1000,
                                   scheduler=daemon.scheduler,
                                   stall_slack_s=s.scheduler_stall_grace_s)
        self.overhead = OverheadBudget(daemon.scheduler, daemon.bus, s.monitoring_overhead_limit,
                                       report=self.selfwatch.report,
                                       sample_s=s.overhead_sample_s)
        self.reports_dir = Path(s.data_dir) / "reports"
        self.latest_report: dict[str, Any] | None = None
        self.last_prune: dict[str, Any] | None = None
        self._cron: AsyncIOScheduler | None = None
        board = daemon.status
        board.register("daemon", self._daemon_status)
        board.register("selfwatch", self.selfwatch.to_dict)
        board.register("requests", self.requests.to_dict)
        board.register("errors", self._errors_status)
        board.register("store", self._store_status)
        board.register("checks", self._checks_status)
        board.register("events", self._events_status)
        board.register("overhead", self.overhead.to_dict)

    async def start(self) -> None:
        d = self.daemon
        add_check_hook(d.scheduler, self.checks.on_check)
        self.selfwatch.start()
        self.overhead.start()
        s = d.settings
        self._cron = AsyncIOScheduler(timezone="UTC")
        self._cron.add_job(self.prune, "interval", seconds=s.retention_interval_s,
                           id="retention",
                           next_run_time=_soon(min(5.0, s.retention_interval_s)), coalesce=True,
                           max_instances=1, misfire_grace_time=None)
        self._cron.add_job(self.report, "interval", seconds=s.health_report_frequency / 1000,
                           id="health-report", coalesce=True, max_instances=1,
                           misfire_grace_time=None,
                           next_run_time=_soon(min(30.0, s.health_report_frequency / 1000)))
        self._cron.start()

    async def stop(self) -> None:
        if self._cron is not None and self._cron.running:
            self._cron.shutdown(wait=False)
        await self.overhead.stop()
        await self.selfwatch.stop()

    # -- housekeeping -----------------------------------------------------------------------
    async def prune(self) -> dict[str, int]:
        s = self.daemon.settings
        now = time.time()
        try:
            removed = await self.daemon.store.prune(now - s.error_retention_days * DAY,
                                                    now - s.summary_retention_days * DAY)
            removed["check_rollups"] = await self.daemon.rollup.prune(
                now - s.summary_retention_days * DAY)
        except Exception as exc:
            logger.opt(exception=exc).error("pruning old errors failed")
            return {}
        self.last_prune = {"at": round(now * 1000), "removed": removed}
        if any(removed.values()):
            logger.info("retention: removed {}", removed)
        return removed

    async def report(self) -> dict[str, Any] | None:
        d = self.daemon
        try:
            report = await build_report(d.store, d.tracker, d.settings.report_window_hours * 3600)
            path = await asyncio.to_thread(write_report, report, self.reports_dir,
                                           d.settings.reports_keep)
        except Exception as exc:
            logger.opt(exception=exc).error("health report failed")
            return None
        self.latest_report = report
        d.bus.publish("report_written", None, None, path=str(path),
                      generationMs=report["generationMs"])
        logger.info("health report written to {} in {} ms", path, report["generationMs"])
        return report

    async def latest(self) -> dict[str, Any] | None:
        if self.latest_report is None:
            self.latest_report = await asyncio.to_thread(read_latest, self.reports_dir)
        return self.latest_report

    # -- status contributions ---------------------------------------------------------------
    async def _daemon_status(self) -> dict[str, Any]:
        d = self.daemon
        out = await asyncio.to_thread(process_status, d.started_at)
        out["tasks"] = len(asyncio.all_tasks())
        out["services"] = len(d.tracker.services)
        out["apiUrl"] = d.api_url
        # "uvloop" or "asyncio" (SOULFRA_EVENT_LOOP)
        out["eventLoop"] = type(asyncio.get_running_loop()).__module__.split(".")[0]
        return out

    async def _errors_status(self) -> dict[str, Any]:
        store = self.daemon.store
        since = time.time() - DAY
        return {"last24hByCategory": await store.errors_by("category", since),
                "last24hBySeverity": await store.errors_by("severity", since),
                "lastHour": await store.count_errors(time.time() - 3600)}

    def _store_status(self) -> dict[str, Any]:
        return {**self.daemon.store.write_health(), "path": str(self.daemon.store.path),
                "lastPrune": self.last_prune}

    def _checks_status(self) -> dict[str, Any]:
        sched = self.daemon.scheduler
        return {"total": self.checks.total,
                "inconclusive": self.selfwatch.own_trouble.to_dict(),
                "lastProgressAgoS": round(time.monotonic() - sched.last_tick, 2)}

    def _events_status(self) -> dict[str, Any]:
        bus = self.daemon.bus
        return {"published": bus.recent[-1].id if bus.recent else 0,
                "ringSize": bus.recent.maxlen,
                "dropped": bus.dropped()}


def _soon(seconds: float) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) + timedelta(seconds=seconds)
