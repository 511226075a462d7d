"""Incidents from the store: a service that went down is one; a reported error that carries a
trace id in its correlation id is not (it must not reach /status or the incident list)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from supervisor.core.incidents import error_row
from supervisor.core.taxonomy import TIMEOUT
from supervisor.store import incident_timeline
from supervisor.store.database import Store


@pytest.mark.timeout(30)
async def test_only_a_service_that_went_down_is_an_incident(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    await store.open()
    try:
        now = time.time()
        await store.insert_transition(now - 5, "shop", "healthy", "failing", "HTTP 500",
                                      "inc_0123456789ab")
        await store.insert_error(error_row(TIMEOUT, "shop", "no answer", at=now - 5,
                                           correlation_id="inc_0123456789ab", env={}))
        await store.insert_transition(now - 1, "shop", "failing", "healthy", "recovered",
                                      "inc_0123456789ab")
        # what an SDK report looks like in the errors table: the trace id as correlation id
        await store.insert_error(error_row(TIMEOUT, "shop", "KeyError: 'cart'", at=now - 3,
                                           correlation_id="4bf92f3577b34da6a3ce929d0e0e4736",
                                           env={}))
        await store.flush()
        listed = await store.run(lambda conn: incident_timeline.recent(conn, now - 60))
        assert [i["id"] for i in listed] == ["inc_0123456789ab"]
        one = await store.run(lambda conn: incident_timeline.load(conn, "inc_0123456789ab"))
        assert one is not None and one["recoveredAt"] is not None
        assert one["repairMs"] == pytest.approx(4000, abs=50)
        kinds = [i["kind"] for i in one["timeline"]]
        assert kinds[:2] == ["first_failure", "declared"] and kinds[-1] == "recovered"
    finally:
        await store.close()
