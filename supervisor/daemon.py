"""The daemon: wires config, checks, state, recovery, store and API together, and runs them."""

from __future__ import annotations

import asyncio
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web
from loguru import logger

import health_checks
from health_checks.base import CheckEnv, HealthCheck
from supervisor.alerts.service import AlertService
from supervisor.api.server import ApiServer
from supervisor.clients.docker import DockerClient
from supervisor.clients.http import HttpClient
from supervisor.cluster.multihost import MultiHost
from supervisor.config.loader import load_config
from supervisor.config.reload import ConfigReloader, enabled_services
from supervisor.config.safety import check_bind, check_config_file
from supervisor.config.services import ServiceConfigBase, uses_containers
from supervisor.config.settings import Settings
from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.error_rates import ErrorRates
from supervisor.core.events import Event, EventBus
from supervisor.core.incidents import IncidentRecorder
from supervisor.core.scheduler import Scheduler, ServiceRuntime, add_check_hook
from supervisor.core.state import StateTracker, Thresholds
from supervisor.ingest.pipeline import Ingestor
from supervisor.observability.check_rollup import CheckRollup
from supervisor.observability.client_errors import ClientErrorLogger
from supervisor.observability.housekeeping import Monitoring
from supervisor.observability.metrics import Metrics
from supervisor.observability.status import StatusBoard
from supervisor.processes.manager import ProcessManager
from supervisor.push.board import HeartbeatBoard
from supervisor.push.hub import PushHub
from supervisor.recovery.autostart import Autostart
from supervisor.recovery.locks import cluster_lease
from supervisor.recovery.manager import RecoveryManager
from supervisor.recovery.resume import recheck, resume_states
from supervisor.recovery.windows import RecurringMaintenance
from supervisor.store.database import Store
from supervisor.systemd.limits import api_accept_burst, api_connection_cap, raise_fd_limit
from supervisor.systemd.notify import Notifier, status_line
from supervisor.systemd.shutdown import ShutdownHook, graceful_shutdown
from supervisor.systemd.watchdog import Watchdog

if TYPE_CHECKING:
    from supervisor.containers.watch import ContainerWatch

ApiFactory = Callable[["Daemon"], web.Application]

# How long open API connections (event streams) get to finish when the daemon stops.
API_SHUTDOWN_S = 2.0


def build_checks(name: str, svc: ServiceConfigBase, env: CheckEnv) -> list[HealthCheck]:
    # every registered check model declares `type` (its Literal discriminator)
    return [health_checks.registry.get(c.type)(c, name, env)  # type: ignore[attr-defined]
            for c in svc.checks]


class Daemon:
    def __init__(self, settings: Settings, config: Any | None = None,
                 notifier: Notifier | None = None, api: ApiFactory | None = None) -> None:
        check_bind(settings)
        if config is None:
            check_config_file(settings.config)
        self.settings = settings
        self.config = config if config is not None else load_config(settings.config, settings)
        self.data_dir = Path(settings.data_dir)
        self.started_at = time.time()
        self.bus = EventBus()
        # Shared by every check, channel and strategy of this daemon, and closed with it.
        self.http = HttpClient()
        # Errors the services report (Sentry SDKs, JSON): counted for the `errors` check,
        # which reads them from the env the daemon hands every check.
        self.error_rates = ErrorRates()
        # Connects on first use only: a daemon without containers never talks to dockerd.
        self.docker = DockerClient(settings.docker_host)
        self.check_env = CheckEnv(http=self.http, heartbeats=HeartbeatBoard(),
                                  errors=self.error_rates, docker=self.docker)
        # Services found by label discovery (supervisor/containers/), not in services.json.
        self.extra_services: dict[str, Any] = {}
        self.containers: ContainerWatch | None = None
        self.tracker = StateTracker(self.bus)
        self.store = Store(self.data_dir / "supervisor.db", settings.store_max_pending)
        self.ingest = Ingestor(self.store, self.bus, self.error_rates, settings,
                               self.check_env.heartbeats)
        # A new process is judged by its own errors, not by those of the one it replaced.
        self.processes = ProcessManager(self.data_dir / "logs", self._process_exited,
                                        on_start=lambda service, _pid:
                                        self.error_rates.cut(service))
        self.scheduler = Scheduler(self.tracker, self.bus, settings.max_concurrent_checks)
        self.recovery = RecoveryManager(
            bus=self.bus, tracker=self.tracker, scheduler=self.scheduler, store=self.store,
            processes=self.processes, auto_enabled=settings.auto_recovery_enabled,
            data_dir=str(self.data_dir), http=self.http, lock=cluster_lease(settings),
            docker=self.docker)
        self.incidents = IncidentRecorder(self.store, self.tracker)
        # per-service, per-minute check counters and latency for the charts
        self.rollup = CheckRollup(self.store, settings.series_resolution_s)
        self.metrics = Metrics(self.bus, self.tracker)
        self.push = PushHub(self.check_env.heartbeats, self.tracker.signal_failure,
                            self._signs_of_life)
        # GET /api/monitoring/status: every part adds its own section with status.register()
        self.status = StatusBoard()
        self.monitoring = Monitoring(self)
        self.metrics.track_overhead(self.monitoring.overhead.to_dict)
        self.alerts = AlertService(self.store, self.bus, self.tracker, settings, self.http,
                                   auto_recovery=settings.auto_recovery_enabled)
        self.status.register("alerts", self.alerts.summary)
        # Run at shutdown after queued events are written and before the store closes:
        # (name, coroutine function) pairs.
        self.shutdown_hooks: list[tuple[str, ShutdownHook]] = [
            ("close the Docker client", self.docker.close)]
        # Shared store, cluster membership and incident keys, MQTT states: each if configured.
        self.multihost = MultiHost(self, self.monitoring.selfwatch)
        self.status.register("leases", self.recovery.lease_status)
        self.status.register("ingest", self.ingest.summary)
        self.api_factory = api  # the HTTP API is built by whoever runs the daemon (the CLI)
        self.maintenance = RecurringMaintenance(self.recovery)
        self.api_url = ""
        self._api: ApiServer | None = None
        self.fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
        self._stop = asyncio.Event()
        self._rechecks: set[asyncio.Task[list[CheckResult]]] = set()
        self._hurry = asyncio.Event()
        self.notifier = notifier if notifier is not None else Notifier.from_environ()
        selfwatch = self.monitoring.selfwatch
        selfwatch.lag_hooks.append(self.metrics.observe_loop_lag)
        self.watchdog = Watchdog(
            self.notifier, lambda: selfwatch.overdue if selfwatch.scheduler_stalled else [],
            self.status_line)
        self.reloader = ConfigReloader(self, settings.config_poll_interval)
        self.autostart = Autostart(lambda: self.services, recovery=self.recovery,
                                   processes=self.processes, scheduler=self.scheduler,
                                   tracker=self.tracker)
        self.resumed_checks: list[asyncio.Task[None]] = []

    @property
    def services(self) -> dict[str, Any]:
        return dict(self.config.error_monitoring.services)

    # -- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        await self.store.open()
        await self.multihost.start_before_writes()  # the replicator's triggers
        self.bus.subscribe("incidents", self.incidents.on_event,
                           types={"state_changed", "recovery_finished", "recovery_skipped"})
        self.bus.subscribe("recovery", self.recovery.on_event, types={"state_changed"})
        self.bus.subscribe("systemd-status", self._status_changed, types={"state_changed"})
        self.bus.subscribe("log", self._log_event,
                           types={"state_changed", "recovery_started", "recovery_finished",
                                  "gave_up", "check_error"})
        self.metrics.start(self.scheduler)
        add_check_hook(self.scheduler, self.rollup.on_check)
        self.rollup.start()
        self.shutdown_hooks.append(("write check rollups", self.rollup.stop))
        self.alerts.subscribe()
        await self.bus.start()
        await self.monitoring.start()
        self._apply(self.config)
        await self.ingest.configure(enabled_services(self.config))
        await self.recovery.load()
        self.reloader.remember_current()
        to_check = await resume_states(self.store, self.tracker, self.incidents)
        await self.push.start()
        await self.alerts.start()
        self.maintenance.start()
        self.shutdown_hooks.append(("maintenance windows", self.maintenance.stop))
        await self.autostart.run()
        self.shutdown_hooks.append(("stop watching services boot", self.autostart.stop))
        self.watch_containers()
        if self.settings.error_monitoring_enabled:
            self.scheduler.start_all()
        self.resumed_checks = [
            asyncio.create_task(recheck(name, scheduler=self.scheduler, tracker=self.tracker,
                                        recovery=self.recovery,
                                        checks_scheduled=self.settings.error_monitoring_enabled))
            for name in to_check]
        await self._start_api()
        self.multihost.start_after_api()  # membership and MQTT states
        self.notifier.ready(self.status_line())
        self.watchdog.start()
        self.reloader.start_watching()

    def _apply(self, config: Any) -> None:
        em = config.error_monitoring
        enabled = {n: s for n, s in em.services.items() if s.enabled}
        for name, svc in enabled.items():
            self.add_service(name, svc, start=False)
        self.configure_recovery()
        self.alerts.configure(em.alerts)
        self.maintenance.configure(em.alerts.maintenance, list(enabled))

    def configure_recovery(self) -> None:
        """Plans for services.json's services and for those discovery found."""
        em = self.config.error_monitoring
        self.recovery.configure({**self.extra_services, **enabled_services(self.config)},
                                em.recovery)

    async def apply_config(self, config: Any, added: list[str], removed: list[str],
                           changed: list[str]) -> None:
        """A reloaded services.json: only added, removed and changed services are touched."""
        new = enabled_services(config)
        old_plans = dict(self.recovery.plans)
        for name in removed + changed:
            await self.scheduler.remove(name)
        for name in removed:
            self.tracker.remove(name)
        self.config = config
        if self.containers is not None:  # services.json wins over a container's labels
            await self.containers.file_changed(set(new))
        for name in added + changed:
            self.add_service(name, new[name], start=self.settings.error_monitoring_enabled)
        self.configure_recovery()
        self.watch_containers()
        self.alerts.configure(config.error_monitoring.alerts)
        await self.ingest.configure(new)
        self.maintenance.configure(config.error_monitoring.alerts.maintenance, list(new))
        for name in removed:
            if name in self.recovery.active:  # let a recovery in flight finish with its plan
                self.recovery.plans[name] = old_plans[name]
        await self.autostart.run(added + changed)

    def add_service(self, name: str, svc: ServiceConfigBase, start: bool) -> None:
        self.tracker.add(name, Thresholds(svc.error_threshold, svc.success_threshold),
                         svc.critical)
        self.scheduler.add(ServiceRuntime(name, (svc.interval or 30000) / 1000,
                                          build_checks(name, svc, self.check_env),
                                          critical=svc.critical), start=start)

    def watch_containers(self) -> None:
        """Start Docker's event stream (and discovery) once a service or setting needs it."""
        if self.containers is not None or not (
                self.settings.docker_discovery or uses_containers(self.services)):
            return
        from supervisor.containers.wiring import container_watch

        self.containers = container_watch(self)
        self.status.register("containers", self.containers.status)
        self.shutdown_hooks.insert(0, ("stop watching containers", self.containers.stop))
        self.containers.start()

    def status_line(self) -> str:
        return status_line(self.tracker.services.values(), f"API {self.api_url}")

    async def _start_api(self) -> None:
        if self.api_factory is None:
            return
        soft = self.fd_limit[0]
        self._api = ApiServer(self.api_factory(self), api_connection_cap(soft),
                              api_accept_burst(soft), API_SHUTDOWN_S,
                              logger=ClientErrorLogger())
        port = await self._api.start(self.settings.host, self.settings.port)
        self.api_url = f"http://{self.settings.host}:{port}"
        self.status.register("api", self._api.to_dict)

    async def stop_api(self) -> None:
        if self._api is not None:
            await self._api.stop()
            self._api = None

    def request_stop(self) -> None:
        if self._stop.is_set():  # a second signal: stop waiting for recoveries
            logger.warning("second stop signal: interrupting recoveries now")
            self._hurry.set()
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reloader.reload_soon, "SIGHUP")
        self.fd_limit = raise_fd_limit()
        try:
            await self.start()
        except BaseException:
            await self._abandon_start()
            raise
        logger.info("soulfra-supervisor {} watching {} service(s)", self.api_url,
                    len(self.services))
        hello = (f"API listening on {self.api_url}  (try: curl {self.api_url}/api/monitoring/"
                 "health)", f"Data stored in {self.data_dir.resolve()}")
        if sys.stdout.isatty():  # a person at a terminal (scripts/run)
            print(*hello, sep="\n", flush=True)
        else:  # the journal or a log shipper: one structured line each, like every other
            logger.bind(api_url=self.api_url).info(hello[0])
            logger.bind(data_dir=str(self.data_dir.resolve())).info(hello[1])
        await self._stop.wait()
        await self.shutdown()

    async def shutdown(self) -> None:
        await graceful_shutdown(self, self.settings.shutdown_timeout, self._hurry)

    async def _abandon_start(self) -> None:
        """start() failed (e.g. the API port is taken) after it may have started services:
        stop those marked stopOnExit, as a shutdown would; they would outlive the daemon."""
        try:
            await asyncio.wait_for(self.stop_processes(), self.settings.shutdown_timeout)
        except Exception:
            logger.exception("could not stop the services started before the start failed")

    async def stop_processes(self) -> None:
        specs = {n: s.restart for n, s in self.services.items() if s.restart is not None}
        await self.processes.shutdown(specs)

    # -- push signals -----------------------------------------------------------------------
    def _process_exited(self, service: str, pid: int, code: int | None) -> None:
        if code is None:
            how = "exited"
        elif code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code}"
        result = CheckResult(kind=CheckKind.PROCESS_EXITED, message=f"process {pid} {how}",
                             check="process", check_type="process",
                             details={"pid": pid, "code": code})
        self.tracker.signal_failure(service, result)

    def _signs_of_life(self, service: str) -> None:
        """A service that was failing for silence pushed again: check it now, not next poll."""
        if service in self.scheduler.services:
            task = asyncio.get_running_loop().create_task(self.scheduler.run_service(service))
            self._rechecks.add(task)
            task.add_done_callback(self._rechecks.discard)

    async def _status_changed(self, event: Event) -> None:
        """`systemctl status` shows a state change now, not at the next watchdog round."""
        if not self.watchdog.stalled:  # the watchdog's STALLED line stays until it clears
            self.notifier.status(self.status_line())

    async def _log_event(self, event: Event) -> None:
        log = logger.bind(correlation_id=event.correlation_id or "")
        d = event.data
        if event.type == "state_changed":
            log.info("{}: {} -> {} ({})", event.service, d["previous"], d["state"],
                     d.get("reason", ""))
        elif event.type == "recovery_started":
            log.info("{}: recovery {} started ({})", event.service, d["id"], d["action"])
        elif event.type == "recovery_finished":
            log.info("{}: recovery {} {}: {}", event.service, d["id"], d["status"],
                     d.get("message", ""))
        elif event.type == "gave_up":
            log.error("{}: gave up: {}", event.service, d.get("reason", ""))
        elif event.type == "check_error":
            # Not only crashes: a check that cannot judge (dockerd unreachable) says why.
            log.error("{}: check {} could not judge: {}", event.service, d.get("check"),
                      d.get("message"))
