"""Without an `errors` check, reported errors are still told: a new group, a resolved group
that comes back, a spike; and none of it restarts anything or holds back incident pages."""

from __future__ import annotations

import pytest

from tests.e2e.test_ingest_protocol import KEY, _event, auth, envelope, event_item, post
from tests.support.helpers import http, services_file, wait_for


def _kinds(d) -> list[str]:
    return [a["kind"] for a in d.get("/api/monitoring/alerts?limit=1000")[1]["alerts"]]


@pytest.mark.timeout(60)
def test_new_group_regression_and_spike_are_alerted(daemon_factory):
    d = daemon_factory(services_file({"api": {"errorReporting": {"projectId": 7,
                                                                  "keys": [KEY]}}}),
                       env={"SOULFRA_INGEST_SPIKE_PER_MINUTE": "30"})
    assert post(d, envelope(event_item(_event("first"))), auth())[0] == 200
    wait_for(lambda: "new_error" in _kinds(d), what="a new-group alert")
    alert = [a for a in d.get("/api/monitoring/alerts")[1]["alerts"]
             if a["kind"] == "new_error"][0]
    assert alert["service"] == "api" and "RuntimeError: first" in alert["summary"]
    assert post(d, envelope(event_item(_event("first"))), auth())[0] == 200
    fp = wait_for(lambda: d.get("/api/monitoring/error-groups?service=api")[1]["groups"],
                  what="the group")[0]["fingerprint"]
    wait_for(lambda: d.get(f"/api/monitoring/error-groups/{fp}")[1]["count"] == 2,
             what="both counted")
    assert _kinds(d).count("new_error") == 1  # the same group again: no second notice
    assert http("PATCH", f"{d.url}/api/monitoring/error-groups/{fp}",
                {"status": "resolved"})[0] == 200
    # the daemon looks a group up again at most once a minute: a different daemon run, or
    # a minute later, notices; a new process sees it at once, so restart the daemon
    d.stop()
    d.start()
    assert post(d, envelope(event_item(_event("first"))), auth())[0] == 200
    wait_for(lambda: "regression" in _kinds(d), what="a regression alert")
    group = d.get(f"/api/monitoring/error-groups/{fp}")[1]
    assert group["regressed"] is True and group["status"] == "pending"
    for i in range(35):  # 35 distinct groups within a minute
        post(d, envelope(event_item(_event(f"storm {i}", fingerprint=[f"storm-{i}"]))), auth())
    wait_for(lambda: "error_spike" in _kinds(d), what="a spike alert")
    assert _kinds(d).count("error_spike") == 1
    kinds = _kinds(d)
    assert kinds.count("new_error") <= 6  # a storm of new groups is throttled
    assert d.get("/api/monitoring/status")[1]["ingest"]["noticesHeld"] >= 1
    assert d.state("api") in ("healthy", "unknown")  # no errors check: nothing restarted
