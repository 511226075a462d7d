"""Prometheus metrics, fed by the event bus and the scheduler's per-check hook.

Counters and histograms are updated as things happen; the state of every service is read from
the tracker at scrape time, so a service removed by a reload disappears from /metrics instead
of lingering with its last value. Each daemon has its own registry (no global state), which
keeps several daemons in one test process apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from supervisor import __version__
from supervisor.core.check_result import CheckResult
from supervisor.core.events import Event, EventBus
from supervisor.core.scheduler import Scheduler, add_check_hook
from supervisor.core.state import State, StateTracker

# Seconds; from a fast loopback probe (about 1 ms) up to the longest sane check timeout.
CHECK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                 30.0)
RECOVERY_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# The `_created` series double the scrape for no use in the text format.
disable_created_metrics()  # type: ignore[no-untyped-call]


class _ServiceStateCollector(Collector):
    """One gauge per service and state (1 for the current one), read from the tracker."""

    def __init__(self, tracker: StateTracker) -> None:
        self.tracker = tracker

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("soulfra_service_state",
                                  "Current state of each service (1 for the state it is in).",
                                  labels=["service", "state"])
        up = GaugeMetricFamily("soulfra_service_up",
                               "1 when the service is healthy or degraded, else 0.",
                               labels=["service"])
        failures = GaugeMetricFamily("soulfra_service_consecutive_failures",
                                     "Failed check rounds in a row.", labels=["service"])
        since = GaugeMetricFamily("soulfra_service_state_since_seconds",
                                  "Unix time the service entered its current state.",
                                  labels=["service"])
        latency = GaugeMetricFamily("soulfra_service_response_time_seconds",
                                    "Latest HTTP/TCP response time of the service.",
                                    labels=["service"])
        for name, st in list(self.tracker.services.items()):
            for s in State:
                state.add_metric([name, str(s)], 1.0 if st.state is s else 0.0)
            up.add_metric([name], 1.0 if st.state.is_up else 0.0)
            failures.add_metric([name], float(st.consecutive_failures))
            since.add_metric([name], st.since)
            rt = st.response_time_ms
            if rt is not None:
                latency.add_metric([name], rt / 1000)
        yield from (state, up, failures, since, latency)


class _OverheadCollector(Collector):
    """The overhead budget's reading (supervisor/observability/overhead.py), at scrape time."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self.snapshot()
        yield GaugeMetricFamily("soulfra_overhead_cpu_percent",
                                "The daemon's own CPU share, % of one core (smoothed).",
                                value=s["cpuPercent"] or 0.0)
        yield GaugeMetricFamily("soulfra_overhead_limit_percent",
                                "MONITORING_OVERHEAD_LIMIT.", value=s["limitPercent"])
        yield GaugeMetricFamily("soulfra_overhead_interval_stretch",
                                "Factor on the intervals of non-critical services (1: as "
                                "configured).", value=s["stretch"])
        yield GaugeMetricFamily("soulfra_overhead_stretched_services",
                                "Services whose interval is stretched now.",
                                value=s["stretchedServices"])


class Metrics:
    def __init__(self, bus: EventBus, tracker: StateTracker) -> None:
        self.bus = bus
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        r.register(_ServiceStateCollector(tracker))
        Gauge("soulfra_info", "Version of the running daemon.", ["version"],
              registry=r).labels(__version__).set(1)
        Gauge("soulfra_start_time_seconds", "Unix time the daemon started.",
              registry=r).set(time.time())
        self.check_duration = Histogram(
            "soulfra_check_duration_seconds", "Duration of health checks, by check type.",
            ["type"], buckets=CHECK_BUCKETS, registry=r)
        self.check_results = Counter(
            "soulfra_check_results_total", "Health check results, by service, check and outcome.",
            ["service", "check", "outcome"], registry=r)
        self.transitions = Counter(
            "soulfra_state_transitions_total", "Service state changes, by the state entered.",
            ["service", "state"], registry=r)
        self.recovery_attempts = Counter(
            "soulfra_recovery_attempts_total", "Recovery attempts, by strategy and outcome.",
            ["service", "strategy", "outcome"], registry=r)
        self.recoveries = Counter(
            "soulfra_recoveries_total",
            "Finished recoveries, by the last strategy tried and the outcome "
            "(succeeded, failed, interrupted, skipped).",
            ["service", "strategy", "outcome"], registry=r)
        self.recovery_duration = Histogram(
            "soulfra_recovery_duration_seconds", "Time from a recovery's start to its end.",
            ["service"], buckets=RECOVERY_BUCKETS, registry=r)
        self.gave_up = Counter(
            "soulfra_gave_up_total", "Times recovery gave up on a service.", ["service"],
            registry=r)
        self.errors = Counter(
            "soulfra_errors_total", "Errors recorded, by category and severity.",
            ["category", "severity"], registry=r)
        self.check_errors = Counter(
            "soulfra_check_crashes_total", "Checks that crashed (a bug in the check).",
            ["service", "check"], registry=r)
        # Alerts (supervisor/alerts/) report through the bus event `alert_delivery`; the
        # outbox sets its depth directly or in that event's `outboxDepth`.
        self.alert_deliveries = Counter(
            "soulfra_alert_deliveries_total", "Alert deliveries, by channel and outcome.",
            ["channel", "outcome"], registry=r)
        self.alert_outbox_depth = Gauge(
            "soulfra_alert_outbox_depth", "Alerts waiting in the outbox for delivery.",
            registry=r)
        self.events = Counter(
            "soulfra_events_total", "Events published on the internal bus, by type.", ["type"],
            registry=r)
        self.loop_lag = Gauge(
            "soulfra_event_loop_lag_seconds",
            "How late the self-watch's latest 0.1 s timer fired (a blocked loop shows here).",
            registry=r)
        self.loop_lag_hist = Histogram(
            "soulfra_event_loop_lag_seconds_distribution", "Event-loop timer lateness.",
            buckets=LAG_BUCKETS, registry=r)
        self.sse_clients = Gauge(
            "soulfra_event_stream_clients", "Clients connected to the event stream.",
            registry=r)

    # -- wiring -----------------------------------------------------------------------------
    def start(self, scheduler: Scheduler) -> None:
        """Subscribe to the bus and hook the scheduler (loop lag comes from the self-watch's
        sampler, through observe_loop_lag)."""
        self.bus.subscribe("metrics", self.on_event)
        add_check_hook(scheduler, self.on_check)

    async def stop(self) -> None:
        """Nothing runs on its own; kept so the daemon stops every part the same way."""

    def observe_loop_lag(self, lag_s: float) -> None:
        self.loop_lag.set(lag_s)
        self.loop_lag_hist.observe(lag_s)

    def track_overhead(self, snapshot: Callable[[], dict[str, Any]]) -> None:
        self.registry.register(_OverheadCollector(snapshot))

    # -- inputs -----------------------------------------------------------------------------
    def on_check(self, service: str, result: CheckResult) -> None:
        self.check_duration.labels(result.check_type or "unknown").observe(
            result.latency_ms / 1000)
        self.check_results.labels(service, result.check, str(result.kind)).inc()

    async def on_event(self, event: Event) -> None:
        self.events.labels(event.type).inc()
        d = event.data
        service = event.service or ""
        if event.type == "state_changed":
            self.transitions.labels(service, str(d.get("state"))).inc()
        elif event.type == "recovery_attempt":
            self.recovery_attempts.labels(service, str(d.get("strategy", "")),
                                          "ok" if d.get("ok") else "failed").inc()
        elif event.type == "recovery_finished":
            attempts: list[dict[str, Any]] = d.get("attempts") or []
            strategy = str(attempts[-1].get("strategy", "none")) if attempts else "none"
            self.recoveries.labels(service, strategy, str(d.get("status"))).inc()
            if d.get("durationMs") is not None:
                self.recovery_duration.labels(service).observe(d["durationMs"] / 1000)
        elif event.type == "recovery_skipped":
            self.recoveries.labels(service, "none", "skipped").inc()
        elif event.type == "gave_up":
            self.gave_up.labels(service).inc()
        elif event.type in ("error_recorded", "daemon_error"):  # a service's, or our own
            error = d.get("error") or {}
            self.errors.labels(str(error.get("category")), str(error.get("severity"))).inc()
        elif event.type == "check_error":
            self.check_errors.labels(service, str(d.get("check"))).inc()
        elif event.type == "alert_delivery":
            self.alert_deliveries.labels(str(d.get("channel")), str(d.get("outcome"))).inc()
            if isinstance(d.get("outboxDepth"), int):
                self.alert_outbox_depth.set(d["outboxDepth"])
