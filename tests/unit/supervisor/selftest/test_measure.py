"""What selftest reads from the daemon's answers: detection, what it was detected as, what
healed it, and which actions were harmful; and the verdict rules built on them."""

from __future__ import annotations

import pytest

from supervisor.selftest import measure
from supervisor.selftest.faults import Fault, Setup
from supervisor.selftest.measure import Row
from supervisor.selftest.runner import verdict_problems

pytestmark = pytest.mark.timeout(10)


def _service(**kw):
    base = {"status": "healthy", "transitions": [], "recentErrors": [], "lastResults": [],
            "recentRecoveries": [], "storedRecoveries": []}
    return {**base, **kw}


def _run(rid, at, status="succeeded", strategies=("restart_command",)):
    return {"id": rid, "createdAt": at, "status": status, "dryRun": False,
            "attempts": [{"strategy": s} for s in strategies]}


def test_detection_is_the_first_transition_away_from_healthy_after_the_fault():
    svc = _service(transitions=[
        {"at": 9_000, "to": "failing"},           # an older incident: before the fault
        {"at": 12_000, "to": "healthy"},
        {"at": 11_000, "to": "failing"}])
    assert measure.detection(svc, since=10.0) == (11.0, "failing")
    assert measure.detection(svc, since=13.0) is None


def test_detected_as_prefers_the_stored_error_then_a_degraded_result():
    svc = _service(recentErrors=[{"timestamp": 11_500, "type": "service_timeout",
                                  "category": "NETWORK_TIMEOUT"}])
    assert measure.detected_as(svc, 10.0) == "service_timeout (NETWORK_TIMEOUT)"
    slow = _service(lastResults=[{"at": 11_000, "kind": "degraded"}])
    assert measure.detected_as(slow, 10.0) == "degraded"
    assert measure.matches("service_timeout (NETWORK_TIMEOUT)", ("NETWORK_TIMEOUT",))
    assert not measure.matches("server_error (SERVICE_UNAVAILABLE)", ("NETWORK_TIMEOUT",))


def test_recoveries_are_counted_once_and_only_after_the_fault():
    run = _run("RC_1", 11.0)
    svc = _service(recentRecoveries=[run], storedRecoveries=[run, _run("RC_0", 5.0)])
    assert [r["id"] for r in measure.recoveries(svc, 10.0)] == ["RC_1"]


def test_healed_by_is_the_last_attempt_of_the_last_succeeded_recovery():
    runs = [_run("RC_1", 11.0, strategies=("ensure_path", "restart_command")),
            _run("RC_2", 12.0, status="failed", strategies=("signal",))]
    assert measure.healed_by(runs) == "restart_command"
    assert measure.healed_by([]) == ""


def test_an_acting_recovery_of_a_service_not_at_fault_is_harmful_checking_again_is_not():
    by_service = {"db": [_run("RC_1", 11.0)], "app": [_run("RC_2", 11.0)],
                  "idle": [_run("RC_3", 11.0, strategies=("retry_failed",))]}
    assert measure.harmful(by_service, allowed={"db"}) == [
        "restart_command on app (not at fault)"]


def _fault(**kw):
    args = {"name": "f", "what": "", "detect": ("PROCESS_EXITED",),
            "strategy": "restart_command", "setup": lambda lab: Setup({}, "f", lambda: None)}
    return Fault(**{**args, **kw})


def test_a_row_passes_only_when_detected_as_expected_healed_by_the_strategy_and_harmless():
    good = Row("f", detected_as="process_exited (PROCESS_EXITED)",
               healed_by="restart_command", actions=1)
    assert verdict_problems(_fault(), good, True, True, False) == []
    assert verdict_problems(_fault(), Row("f"), False, False, False) == ["not detected"]
    wrong = Row("f", detected_as="server_error (SERVICE_UNAVAILABLE)", healed_by="signal",
                harmful=["restart_command on app (not at fault)"])
    problems = verdict_problems(_fault(), wrong, True, True, False)
    assert problems == ["detected as server_error (SERVICE_UNAVAILABLE), expected PROCESS_EXITED",
                        "healed by signal, expected restart_command",
                        "harmful: restart_command on app (not at fault)"]


def test_a_degraded_fault_fails_when_acted_on_and_a_slow_start_when_restarted_twice():
    degrade = _fault(detect=("degraded",), strategy=None, outcome="degrade")
    acted = Row("f", detected_as="degraded", actions=1)
    assert verdict_problems(degrade, acted, True, True, False) == [
        "acted on (1 actions) where it should not"]
    slow = _fault(max_actions=1)
    twice = Row("f", detected_as="process_exited (PROCESS_EXITED)",
                healed_by="restart_command", actions=2)
    assert verdict_problems(slow, twice, True, True, False) == [
        "2 actions, at most 1 expected"]


def test_a_flapping_fault_must_open_the_breaker():
    flap = _fault(detect=("SERVICE_UNAVAILABLE",), strategy="signal", outcome="flap")
    row = Row("f", detected_as="server_error (SERVICE_UNAVAILABLE)", healed_by="signal")
    assert verdict_problems(flap, row, True, True, gave_up=False) == [
        "the breaker never opened"]
    assert verdict_problems(flap, row, True, True, gave_up=True) == []


def test_a_dependent_must_be_seen_waiting_for_its_dependency():
    skipped = {"id": "RC_9", "createdAt": 11.0, "status": "skipped", "dryRun": False,
               "attempts": [], "message": "waiting for dependency db to recover"}
    assert measure.waited([skipped])
    assert not measure.waited([_run("RC_1", 11.0)])
    row = Row("f", detected_as="process_exited (PROCESS_EXITED)", healed_by="restart_command",
              not_held=["app"])
    assert verdict_problems(_fault(), row, True, True, False) == [
        "not seen waiting for its dependency: app"]
