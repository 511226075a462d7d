"""After a restart: service states and open incidents come back from the store.

A service that was down when the daemon stopped is still down until a check says otherwise:
it resumes under the same correlation id (so the incident, its error and its recovery time
carry on instead of starting anew), and a service that was given up on stays given up on (a
restart of the daemon must not reset the decision to stop restarting it). A service whose
recovery was interrupted is checked at once and, if still failing, recovered again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from loguru import logger

from supervisor.incidents import IncidentRecorder
from supervisor.state import State, StateTracker
from supervisor.store import Store

if TYPE_CHECKING:
    from supervisor.daemon import Daemon


async def resume_states(store: Store, tracker: StateTracker,
                        incidents: IncidentRecorder) -> list[str]:
    """Restore what the store knows; returns the services to check and recover again."""
    recheck: list[str] = []
    for row in await store.transitions(time.time()):  # each service's last transition
        st = tracker.services.get(row["service"])
        if st is None or st.state is not State.UNKNOWN:  # a pause restored it already
            continue
        try:
            state = State(row["state"])
        except ValueError:
            continue
        corr = row["correlation_id"]
        if state.is_down and corr:
            errors = await store.errors_for_incident(corr)
            st.state = State.GAVE_UP if state is State.GAVE_UP else State.FAILING
            st.since, st.correlation_id = row["at"], corr
            st.incident_started = errors[0]["created_at"] if errors else row["at"]
            st.consecutive_failures = st.thresholds.errors
            if errors:
                incidents.resume(corr, errors[0]["id"])
            if st.state is State.FAILING:
                recheck.append(st.name)
            logger.bind(correlation_id=corr).info(
                "{}: resuming open incident as {} (was {} when the daemon stopped)",
                st.name, st.state, state)
    return recheck


async def recheck(daemon: Daemon, name: str) -> None:
    """Check a resumed failing service now; recover it if it is still failing."""
    await daemon.scheduler.run_service(name)
    st = daemon.tracker.services.get(name)
    if st is not None and st.state is State.FAILING and daemon.recovery.auto_enabled:
        try:
            await daemon.recovery.request(name, "auto", requested_by="auto")
        except Exception:
            logger.exception("{}: cannot resume its recovery", name)
