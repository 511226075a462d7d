"""Service state: thresholds turn check results into transitions, published on the bus."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from supervisor.core.check_result import CheckKind, CheckResult
from supervisor.core.events import EventBus


class State(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    FAILING = "failing"
    RECOVERING = "recovering"
    GAVE_UP = "gave_up"
    MAINTENANCE = "maintenance"

    @property
    def is_up(self) -> bool:
        return self in (State.HEALTHY, State.DEGRADED)

    @property
    def is_down(self) -> bool:
        return self in (State.FAILING, State.RECOVERING, State.GAVE_UP)


@dataclass
class Thresholds:
    errors: int = 3
    successes: int = 1


@dataclass
class ServiceState:
    name: str
    thresholds: Thresholds
    critical: bool = False
    state: State = State.UNKNOWN
    since: float = field(default_factory=time.time)
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    consecutive_slow: int = 0
    last_results: list[CheckResult] = field(default_factory=list)
    last_failure: CheckResult | None = None
    correlation_id: str | None = None
    incident_started: float | None = None  # wall time of the first failure of this incident

    @property
    def response_time_ms(self) -> float | None:
        latencies = [r.latency_ms for r in self.last_results if r.check_type in ("http", "tcp")]
        return max(latencies) if latencies else None

    def to_dict(self) -> dict[str, Any]:
        rt = self.response_time_ms
        return {
            "status": str(self.state),
            "responseTime": round(rt) if rt is not None else None,
            "since": self.since,
            "consecutiveFailures": self.consecutive_failures,
            "lastFailure": self.last_failure.to_dict() if self.last_failure else None,
            "checks": [r.to_dict() for r in self.last_results],
            "correlationId": self.correlation_id,
        }


_FAILURE_ORDER = [CheckKind.PROCESS_EXITED, CheckKind.REFUSED, CheckKind.STALLED,
                  CheckKind.CONNECTION_LOST, CheckKind.UNHEALTHY, CheckKind.CONTRACT_VIOLATION,
                  CheckKind.MISSING_HEARTBEAT, CheckKind.NO_PROGRESS,
                  CheckKind.RESOURCE_PRESSURE]


# Results that say nothing about the service: a crashed check (our bug) or one the daemon's own
# trouble made inconclusive.
_NOT_COUNTED = (CheckKind.CHECK_ERROR, CheckKind.INCONCLUSIVE)


def worst(results: list[CheckResult]) -> CheckResult | None:
    """The failure that best explains the service's state, or None when all are up."""
    failures = [r for r in results if not r.ok]
    if not failures:
        return None
    return min(failures, key=lambda r: _FAILURE_ORDER.index(r.kind)
               if r.kind in _FAILURE_ORDER else len(_FAILURE_ORDER))


def counted_failure(results: list[CheckResult]) -> CheckResult | None:
    """The worst failure of a round that counts toward errorThreshold (not a check error or
    an inconclusive result: the daemon's own trouble), or None."""
    return worst([r for r in results if r.kind not in _NOT_COUNTED])


def new_correlation_id() -> str:
    return "inc_" + secrets.token_hex(6)


class StateTracker:
    """Owns every ServiceState; the only place that changes one."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus
        self.services: dict[str, ServiceState] = {}
        # Set by the recovery manager: True while a freshly started process may still be
        # booting; its failed checks do not count then (a push signal still does).
        self.in_startup_grace: Callable[[str], bool] = lambda _name: False

    def add(self, name: str, thresholds: Thresholds, critical: bool = False) -> ServiceState:
        st = self.services.get(name)
        if st is None:
            st = self.services[name] = ServiceState(name, thresholds, critical)
        else:
            st.thresholds, st.critical = thresholds, critical
        return st

    def remove(self, name: str) -> None:
        self.services.pop(name, None)

    def get(self, name: str) -> ServiceState:
        return self.services[name]

    def record(self, name: str, results: list[CheckResult]) -> None:
        """Fold one round of a service's check results into its state."""
        st = self.services.get(name)
        if st is None:
            return
        for r in results:
            if r.kind is CheckKind.CHECK_ERROR:
                self.bus.publish("check_error", name, st.correlation_id, check=r.check,
                                 message=r.message)
        counted = [r for r in results if r.kind not in _NOT_COUNTED]
        if not counted:
            return
        if worst(counted) is None and len(counted) < len(results) and any(
                r.kind is CheckKind.INCONCLUSIVE for r in results):
            return  # a round the daemon could not fully judge proves no recovery either
        st.last_results = counted
        if st.state is State.MAINTENANCE:
            return
        failure = worst(counted)
        if failure is not None and not st.state.is_down and self.in_startup_grace(name):
            return
        if failure is not None:
            self._on_failure(st, failure)
        else:
            self._on_success(st, any(r.kind is CheckKind.DEGRADED for r in counted))

    def signal_failure(self, name: str, result: CheckResult) -> None:
        """A push signal (process exit, broker last-will) is certain: no threshold applies."""
        st = self.services.get(name)
        if st is None or st.state is State.MAINTENANCE:
            return
        st.consecutive_failures = max(st.consecutive_failures, st.thresholds.errors)
        result.details.setdefault("signal", "push")  # for the error's `source`
        st.last_results = [result]
        self._on_failure(st, result)

    def _on_failure(self, st: ServiceState, failure: CheckResult) -> None:
        st.consecutive_failures += 1
        st.consecutive_successes = 0
        st.consecutive_slow = 0
        st.last_failure = failure
        if st.incident_started is None:
            st.incident_started = failure.at
        if st.state.is_down:
            return
        if st.consecutive_failures >= st.thresholds.errors:
            st.correlation_id = new_correlation_id()
            self.transition(st, State.FAILING, failure.message or str(failure.kind),
                            result=failure.to_dict(), kind=str(failure.kind),
                            firstFailureAt=st.incident_started)

    def _on_success(self, st: ServiceState, degraded: bool) -> None:
        st.consecutive_successes += 1
        st.consecutive_failures = 0
        st.consecutive_slow = st.consecutive_slow + 1 if degraded else 0
        if st.state.is_down:
            if st.consecutive_successes >= st.thresholds.successes:
                self.transition(st, State.DEGRADED if degraded else State.HEALTHY, "recovered")
            return
        st.incident_started = None
        if degraded and st.state is not State.DEGRADED:
            if st.consecutive_slow >= st.thresholds.errors or st.state is State.UNKNOWN:
                slow = next((r for r in st.last_results if r.kind is CheckKind.DEGRADED), None)
                self.transition(st, State.DEGRADED, slow.message if slow else "slow")
        elif not degraded and st.state is not State.HEALTHY:
            self.transition(st, State.HEALTHY, "healthy")

    def transition(self, st: ServiceState, to: State, reason: str, **data: Any) -> None:
        previous = st.state
        if previous is to:
            return
        st.state = to
        st.since = time.time()
        correlation_id = st.correlation_id
        if to.is_up or to is State.MAINTENANCE:
            downtime_ms = ((st.since - st.incident_started) * 1000
                           if st.incident_started and previous.is_down else None)
            data.setdefault("downtimeMs", round(downtime_ms) if downtime_ms else None)
            st.correlation_id = None
            st.incident_started = None
        self.bus.publish("state_changed", st.name, correlation_id, previous=str(previous),
                         state=str(to), reason=reason, **data)

    def set_state(self, name: str, to: State, reason: str, **data: Any) -> None:
        st = self.services.get(name)
        if st is not None:
            if to.is_down and st.correlation_id is None:
                st.correlation_id = new_correlation_id()
            self.transition(st, to, reason, **data)
