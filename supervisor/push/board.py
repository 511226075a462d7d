"""The heartbeat board: what each service last pushed, and a timer at each one's deadline.

Heartbeat checks register what they expect here; the API and the MQTT listener record what
arrives. When a deadline passes without a beat, or a broker publishes a service's last will,
`on_failure` is called at once (the daemon feeds it to StateTracker.signal_failure), so a
missing sign of life is known within milliseconds of its deadline, not at the next poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from supervisor.core.check_result import CheckKind, CheckResult


@dataclass
class Expectation:
    check: str  # the heartbeat check's name, for results
    period_s: float
    grace_s: float
    max_runtime_s: float | None = None
    broker: str | None = None
    topic: str | None = None
    will_topic: str | None = None
    offline_payload: str = "offline"
    armed_at: float = field(default_factory=time.monotonic)
    owner: object = None  # the check that registered it; only its owner may withdraw it


@dataclass
class Signs:
    """What a service has pushed (monotonic times)."""

    last_beat: float | None = None
    last_beat_wall: float | None = None
    beats: int = 0
    source: str = ""
    counters: dict[str, float] = field(default_factory=dict)
    message: str | None = None
    job_started: float | None = None
    job_failed: str | None = None  # the message of a job that finished badly, until the next
    will_at: float | None = None
    will_payload: str = ""
    rejected: str | None = None  # the last invalid payload's error


class HeartbeatBoard:
    def __init__(self) -> None:
        self.expected: dict[str, Expectation] = {}
        self.signs: dict[str, Signs] = {}
        self.on_failure: Callable[[str, CheckResult], None] | None = None
        self.on_alive: Callable[[str], None] | None = None
        self.on_change: Callable[[], None] | None = None  # subscriptions changed
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._signalled: set[str] = set()  # failure already pushed for the current silence

    # -- what is expected ---------------------------------------------------------------------
    def expect(self, service: str, exp: Expectation) -> None:
        old = self.expected.get(service)
        if old is not None:
            exp.armed_at = min(exp.armed_at, old.armed_at)
        self.expected[service] = exp
        self._arm(service)
        if self.on_change is not None and (old is None or _subs(old) != _subs(exp)):
            self.on_change()

    def forget(self, service: str, owner: object = None) -> None:
        """Withdraw an expectation; a reload's new check may already have replaced it."""
        exp = self.expected.get(service)
        if exp is None or (owner is not None and exp.owner is not owner):
            return
        del self.expected[service]
        timer = self._timers.pop(service, None)
        if timer is not None:
            timer.cancel()
        if self.on_change is not None:
            self.on_change()

    # -- what arrives -------------------------------------------------------------------------
    def beat(self, service: str, counters: dict[str, float] | None = None,
             message: str | None = None, source: str = "http") -> Signs:
        s = self.signs.setdefault(service, Signs())
        s.last_beat, s.last_beat_wall = time.monotonic(), time.time()
        s.beats += 1
        s.source = source
        if counters:
            s.counters.update(counters)
        if message is not None:
            s.message = message
        self._alive(service)
        return s

    def start_job(self, service: str, counters: dict[str, float] | None = None) -> Signs:
        s = self.beat(service, counters, source="job-start")
        s.job_started = s.last_beat
        s.job_failed = None
        self._arm(service)
        return s

    def finish_job(self, service: str, ok: bool = True, message: str | None = None,
                   counters: dict[str, float] | None = None) -> Signs:
        s = self.beat(service, counters, message, source="job-finish")
        s.job_started = None
        s.job_failed = None if ok else (message or "the job reported failure")
        self._arm(service)
        if not ok:
            self._fire(service)
        return s

    def will(self, service: str, payload: str) -> None:
        s = self.signs.setdefault(service, Signs())
        s.will_at, s.will_payload = time.monotonic(), payload
        self._fire(service)

    def reject(self, service: str, error: str) -> None:
        self.signs.setdefault(service, Signs()).rejected = error

    # -- judgement ----------------------------------------------------------------------------
    def evaluate(self, service: str, now: float | None = None) -> CheckResult:
        exp = self.expected.get(service)
        s = self.signs.get(service) or Signs()
        name = exp.check if exp else "heartbeat"
        now = time.monotonic() if now is None else now
        details: dict[str, Any] = {"beats": s.beats, "counters": dict(s.counters)}
        if s.last_beat is not None:
            details["ageMs"] = round((now - s.last_beat) * 1000)
            details["source"] = s.source
        if s.rejected:
            details["lastRejected"] = s.rejected

        def res(kind: CheckKind, message: str = "") -> CheckResult:
            return CheckResult(kind=kind, message=message, check=name, check_type="heartbeat",
                               details=details)

        if exp is None:
            return res(CheckKind.HEALTHY)
        if s.will_at is not None and (s.last_beat is None or s.will_at > s.last_beat):
            return res(CheckKind.CONNECTION_LOST,
                       f"the broker published {service}'s last will on {exp.will_topic} "
                       f"({s.will_payload[:80]!r}): it dropped its connection")
        if s.job_failed is not None:
            return res(CheckKind.UNHEALTHY, f"job finished with failure: {s.job_failed}")
        if s.job_started is not None and exp.max_runtime_s is not None:
            if now - s.job_started > exp.max_runtime_s:
                return res(CheckKind.STALLED,
                           f"job started {now - s.job_started:.0f} s ago and has not finished "
                           f"(maxRuntime {exp.max_runtime_s:.0f} s)")
            return res(CheckKind.HEALTHY)
        since = s.last_beat if s.last_beat is not None else exp.armed_at
        if now - since > exp.period_s + exp.grace_s:
            what = "no heartbeat" if s.last_beat is None else "last heartbeat"
            return res(CheckKind.MISSING_HEARTBEAT,
                       f"{what} {now - since:.1f} s ago (period {exp.period_s:g} s "
                       f"+ grace {exp.grace_s:g} s)")
        return res(CheckKind.HEALTHY)

    def deadline(self, service: str) -> float | None:
        """Monotonic time at which the service's silence becomes a failure."""
        exp = self.expected.get(service)
        if exp is None:
            return None
        s = self.signs.get(service) or Signs()
        if s.job_started is not None and exp.max_runtime_s is not None:
            return s.job_started + exp.max_runtime_s
        since = s.last_beat if s.last_beat is not None else exp.armed_at
        return since + exp.period_s + exp.grace_s

    # -- timers -------------------------------------------------------------------------------
    def _alive(self, service: str) -> None:
        s = self.signs[service]
        s.rejected = None
        was_signalled = service in self._signalled
        self._signalled.discard(service)
        self._arm(service)
        if was_signalled and self.on_alive is not None:
            self.on_alive(service)

    def _arm(self, service: str) -> None:
        timer = self._timers.pop(service, None)
        if timer is not None:
            timer.cancel()
        at = self.deadline(service)
        if at is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # armed by the next beat or check run inside a loop
        # loop.time() is the monotonic clock; a little past the deadline so it has passed.
        self._timers[service] = loop.call_at(at + 0.001, self._deadline_passed, service)

    def _deadline_passed(self, service: str) -> None:
        self._timers.pop(service, None)
        if self.evaluate(service).ok:
            self._arm(service)
            return
        self._fire(service)

    def _fire(self, service: str) -> None:
        result = self.evaluate(service)
        if result.ok or service in self._signalled:
            return
        self._signalled.add(service)
        if self.on_failure is not None and service in self.expected:
            self.on_failure(service, result)

    def ensure_armed(self, service: str) -> None:
        if service not in self._timers and service not in self._signalled:
            self._arm(service)

    def subscriptions(self) -> dict[str, dict[str, tuple[str, str, str]]]:
        """broker → {topic: (service, role, offline payload)} for the MQTT listeners."""
        out: dict[str, dict[str, tuple[str, str, str]]] = {}
        for service, exp in self.expected.items():
            if exp.broker is None:
                continue
            subs = out.setdefault(exp.broker, {})
            if exp.topic:
                subs[exp.topic] = (service, "beat", exp.offline_payload)
            if exp.will_topic:
                subs[exp.will_topic] = (service, "will", exp.offline_payload)
        return out


def _subs(exp: Expectation) -> tuple[Any, ...]:
    return (exp.broker, exp.topic, exp.will_topic, exp.offline_payload)

